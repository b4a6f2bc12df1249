package usage

import (
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/ethereum/go-ethereum/accounts"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// Signer signs statements with the gateway's secp256k1 key.
type Signer struct {
	key  *ecdsa.PrivateKey
	addr common.Address
}

// NewSigner signs with key.
func NewSigner(key *ecdsa.PrivateKey) *Signer {
	return &Signer{key: key, addr: crypto.PubkeyToAddress(key.PublicKey)}
}

// LoadOrCreateKey reads the hex key at path, or creates one there (mode
// 0600) when the file does not exist. A key file others may read is
// refused: whoever reads it can sign statements as the gateway.
func LoadOrCreateKey(path string) (*Signer, error) {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		key, err := crypto.GenerateKey()
		if err != nil {
			return nil, fmt.Errorf("usage key %s: generate: %w", path, err)
		}
		if err := crypto.SaveECDSA(path, key); err != nil { // writes with mode 0600
			return nil, fmt.Errorf("usage key %s: save: %w", path, err)
		}
		return NewSigner(key), nil
	}
	if err != nil {
		return nil, fmt.Errorf("usage key %s: %w", path, err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("usage key %s: mode %04o lets others read the signing key; chmod 600 it", path, st.Mode().Perm())
	}
	key, err := crypto.LoadECDSA(path)
	if err != nil {
		return nil, fmt.Errorf("usage key %s: %w", path, err)
	}
	return NewSigner(key), nil
}

// Address is the signer's Ethereum address.
func (s *Signer) Address() common.Address { return s.addr }

// SignHash signs hash as EIP-191 personal_sign does (the signed message is
// the 32 bytes of hash) and returns r ‖ s ‖ v with v 27 or 28.
func (s *Signer) SignHash(hash [32]byte) ([]byte, error) {
	sig, err := crypto.Sign(accounts.TextHash(hash[:]), s.key)
	if err != nil {
		return nil, fmt.Errorf("sign usage statement: %w", err)
	}
	sig[64] += 27
	return sig, nil
}

// RecoverSigner returns the address whose key made sig (r ‖ s ‖ v, v 27/28
// or 0/1) over hash as an EIP-191 personal message.
func RecoverSigner(hash [32]byte, sig []byte) (common.Address, error) {
	if len(sig) != crypto.SignatureLength {
		return common.Address{}, fmt.Errorf("signature is %d bytes, not %d", len(sig), crypto.SignatureLength)
	}
	s := append([]byte(nil), sig...)
	if s[64] >= 27 {
		s[64] -= 27
	}
	pub, err := crypto.SigToPub(accounts.TextHash(hash[:]), s)
	if err != nil {
		return common.Address{}, fmt.Errorf("recover signer: %w", err)
	}
	return crypto.PubkeyToAddress(*pub), nil
}
