// A wallet's send-and-wait: the transaction goes through the endpoint and
// the library waits there for its receipt (ethers' tx.wait(), viem's
// waitForTransactionReceipt), which polls just after inclusion.
import assert from 'node:assert/strict';
import { after } from 'node:test';
import { ethers } from 'ethers';
import { createWalletClient, createPublicClient, http } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { KEY, check, httpProvider, key, target, within } from './lib.mjs';

const node = httpProvider(target.node);
const providers = [node];
after(() => Promise.all(providers.map((p) => p.destroy())));

// Transfers per test: the receipt is asked for at once after inclusion
// each time, where an endpoint that lags the chain fails.
const ROUNDS = 5;

// sameAsNode asserts that a receipt is the one the node holds.
async function sameAsNode(hash, blockHash, blockNumber) {
  const truth = await node.getTransactionReceipt(hash);
  assert.ok(truth, `the node has no receipt for ${hash}`);
  assert.equal(blockHash, truth.blockHash, 'receipt block hash');
  assert.equal(Number(blockNumber), truth.blockNumber, 'receipt block number');
}

async function ethersSendAndWait(provider, keyIndex) {
  const wallet = new ethers.Wallet(key(keyIndex), provider);
  const to = ethers.Wallet.createRandom().address;
  for (let i = 0; i < ROUNDS; i++) {
    let tx;
    try {
      // A value of its own per round: a stale "pending" nonce would sign a
      // different transaction than the one on chain, and fail below.
      tx = await wallet.sendTransaction({ to, value: BigInt(i + 1) });
    } catch (err) {
      // ethers v6 now and then sends one signed transaction twice and
      // reports the second copy's "nonce too low" although the first was
      // mined (ethers-io/ethers.js#4085; seen against a node directly too).
      // Then the transaction it signed must be the one on chain, and the
      // wait is done through the endpoint all the same.
      if (err.code !== 'NONCE_EXPIRED' || !err.transaction) throw err;
      const hash = ethers.keccak256(err.transaction);
      assert.ok(await node.getTransactionReceipt(hash), `NONCE_EXPIRED, and the node has no receipt for ${hash}: ${err.message}`);
      const rc = await within(60_000, `waitForTransaction(${hash})`, provider.waitForTransaction(hash));
      assert.ok(rc, 'waitForTransaction returned no receipt');
      await sameAsNode(hash, rc.blockHash, rc.blockNumber);
      continue;
    }
    const rc = await within(60_000, `tx.wait() for ${tx.hash}`, tx.wait());
    assert.ok(rc, 'tx.wait() returned no receipt');
    assert.equal(rc.hash, tx.hash);
    assert.equal(rc.status, 1);
    await sameAsNode(tx.hash, rc.blockHash, rc.blockNumber);
  }
}

// ethers shares identical requests made within cacheTimeout (250 ms): when a
// round's transaction is mined and waited for faster than that, the next
// round's "pending" nonce would come from ethers' cache, not the endpoint.
// The cache is off here so that the endpoint's own nonce is what is tested.
const NO_CACHE = { cacheTimeout: -1 };

check('ethers tx.wait() over HTTP returns the receipt', async () => {
  const p = httpProvider(target.http, NO_CACHE);
  providers.push(p);
  await ethersSendAndWait(p, KEY.wait);
});

check('ethers tx.wait() over WebSocket returns the receipt', async (t) => {
  if (!target.ws) {
    t.skip('no WebSocket endpoint (RPC_WS_URL)');
    return;
  }
  const p = new ethers.WebSocketProvider(target.ws, undefined, NO_CACHE);
  providers.push(p);
  await ethersSendAndWait(p, KEY.waitWs);
});

check('viem waitForTransactionReceipt over HTTP returns the receipt', async () => {
  const account = privateKeyToAccount(key(KEY.viemWait));
  const transport = http(target.http, { retryCount: 0 });
  const pub = createPublicClient({ transport, pollingInterval: 100 });
  const chain = { id: await pub.getChainId(), name: 'devnet', nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 }, rpcUrls: { default: { http: [target.http] } } };
  const wallet = createWalletClient({ account, chain, transport });
  const to = ethers.Wallet.createRandom().address;
  for (let i = 0; i < ROUNDS; i++) {
    const hash = await wallet.sendTransaction({ to, value: 1n });
    const rc = await pub.waitForTransactionReceipt({ hash, timeout: 60_000, retryCount: 0 });
    assert.equal(rc.transactionHash, hash);
    assert.equal(rc.status, 'success');
    await sameAsNode(hash, rc.blockHash, rc.blockNumber);
  }
});
