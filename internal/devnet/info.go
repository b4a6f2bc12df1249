package devnet

// Labels describe where a node runs, as a real deployment would label it.
type Labels struct {
	Operator string `json:"operator"`
	Cloud    string `json:"cloud"`
	Region   string `json:"region"`
	Tier     string `json:"tier"` // own, partner, community or public
}

// Get returns the value of a label by key, and whether the key is known.
func (l Labels) Get(key string) (string, bool) {
	switch key {
	case "operator":
		return l.Operator, true
	case "cloud":
		return l.Cloud, true
	case "region":
		return l.Region, true
	case "tier":
		return l.Tier, true
	}
	return "", false
}

// NodeInfo is how a client reaches one node: through its fault proxy.
type NodeInfo struct {
	Name   string `json:"name"`
	Labels Labels `json:"labels"`
	HTTP   string `json:"http"`
	WS     string `json:"ws"`
}

// Account is a prefunded account whose key is derived from the devnet seed.
type Account struct {
	Address    string `json:"address"`
	PrivateKey string `json:"privateKey"`
}

// GatewayInfo is where the gateway in front of the devnet listens, when one runs.
type GatewayInfo struct {
	HTTP  string `json:"http"`
	WS    string `json:"ws"`
	Admin string `json:"admin"`
}

// Info is the document `rpcmesh-devnet --out FILE` writes.
type Info struct {
	ChainID  uint64       `json:"chainId"`
	Control  string       `json:"control"`
	Nodes    []NodeInfo   `json:"nodes"`
	Accounts []Account    `json:"accounts"`
	Gateway  *GatewayInfo `json:"gateway,omitempty"`
}
