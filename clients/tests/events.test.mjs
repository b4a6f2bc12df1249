// ethers' contract.on over HTTP (eth_newFilter and eth_getFilterChanges):
// every emitted event arrives exactly once, also while the providers behind
// the endpoint go down one after another.
import assert from 'node:assert/strict';
import { after } from 'node:test';
import { ethers } from 'ethers';
import {
  KEY, PING_ABI, check, clearFault, httpProvider, key, pingInitCode, setFault, target, until,
} from './lib.mjs';

// Providers are destroyed when the file is done: their pollers would keep
// the process alive.
const providers = [];
after(() => providers.forEach((p) => p.destroy()));

// listen deploys the Ping contract (through the node), subscribes with
// contract.on through the target and returns a way to emit and to see what
// arrived.
async function listen(keyIndex) {
  const node = httpProvider(target.node);
  const watcher = httpProvider(target.http);
  providers.push(node, watcher);
  // The emitter is scaffolding that sends to the node directly: it keeps
  // its own nonces, as go-ethereum's "pending" count can lag a block just
  // imported (its pool resets after the import), which made it reuse one.
  const wallet = new ethers.NonceManager(new ethers.Wallet(key(keyIndex), node));
  const deploy = await wallet.sendTransaction({ data: pingInitCode() });
  const deployed = await deploy.wait(1, 30_000);
  assert.equal(deployed.status, 1, 'deployment reverted');
  const address = deployed.contractAddress;

  const contract = new ethers.Contract(address, PING_ABI, watcher);
  const seen = []; // "txHash:n" per delivered event
  const filters = watchFilterCalls(watcher);
  await contract.on('Ping', (n, ev) => {
    seen.push(`${ev.log.transactionHash}:${n}`);
  });
  let next = 0n;
  // emit sends one Ping(n) through the node and waits for its receipt
  // there; it returns the key of the event the listener must deliver.
  const emit = async () => {
    const n = ++next;
    const tx = await wallet.sendTransaction({ to: address, data: ethers.toBeHex(n, 32) });
    const rc = await tx.wait(1, 30_000);
    assert.equal(rc.status, 1, 'Ping call reverted');
    assert.equal(rc.logs.length, 1, 'Ping call emitted no log');
    return `${tx.hash}:${n}`;
  };
  // delivered waits until every emitted key has arrived.
  const delivered = async (keys, ms, what) => {
    try {
      await until(ms, what, () => keys.every((k) => seen.includes(k)), filters.failure);
    } catch (err) {
      const last = filters.lastChangesError;
      throw new Error(`${err.message}; delivered ${JSON.stringify(seen)}, want ${JSON.stringify(keys)}` +
        (last ? `; last eth_getFilterChanges error: ${last.shortMessage ?? last.message} ${JSON.stringify(last.error ?? '')}` : ''));
    }
  };
  // ethers installs the filter at its first poll after contract.on returns:
  // emit once it is there (a filter sees blocks from its installation on).
  await until(10_000, 'eth_newFilter answered', () => filters.installed > 0, filters.failure);
  const first = await emit();
  await delivered([first], 30_000, 'the first event');
  // settle waits two blocks more, for any late duplicate to show.
  const settle = async () => {
    const from = await node.getBlockNumber();
    await until(30_000, 'two more blocks', async () => (await node.getBlockNumber()) >= from + 2);
  };
  const stop = async () => {
    await contract.removeAllListeners();
    // ethers uninstalls the filter without waiting: wait for its answer.
    await until(10_000, 'eth_uninstallFilter answered', () => filters.uninstalled > 0, filters.failure);
  };
  return { emit, delivered, settle, seen, stop, first };
}

/**
 * watchFilterCalls follows the filter calls ethers makes through p, which it
 * does not surface: a refused eth_newFilter is logged ("@TODO") and awaited
 * again at every block, so events never arrive, and a refused
 * eth_uninstallFilter is an unhandled rejection. failure() returns the
 * first refusal of either (the listener can then never deliver); the last
 * eth_getFilterChanges error (ethers retries at the next block, a node
 * keeps the changes meanwhile) is named when a wait times out.
 */
function watchFilterCalls(p) {
  const state = { fatal: undefined, lastChangesError: undefined, installed: 0, uninstalled: 0 };
  const send = p.send.bind(p);
  p.send = (method, params) => {
    const res = send(method, params);
    switch (method) {
      case 'eth_newFilter':
      case 'eth_uninstallFilter':
        // Held pending rather than rejected: the rejection would escape
        // ethers unhandled; the test fails on state.fatal instead.
        return res.then((v) => {
          state[method === 'eth_newFilter' ? 'installed' : 'uninstalled']++;
          return v;
        }, (err) => {
          state.fatal ??= new Error(`${method} failed: ${err.shortMessage ?? err.message}: ${JSON.stringify(err.error ?? '')}`);
          return new Promise(() => {});
        });
      case 'eth_getFilterChanges':
        res.catch((err) => { state.lastChangesError = err; });
        return res;
      default:
        return res;
    }
  };
  state.failure = () => state.fatal ?? undefined;
  return state;
}

// exactlyOnce asserts that seen holds each emitted key once and nothing else.
function exactlyOnce(seen, emitted) {
  assert.deepEqual([...seen].sort(), [...emitted].sort(), 'every event exactly once, nothing else');
}

check('ethers contract.on over HTTP receives every event once', async () => {
  const l = await listen(KEY.events);
  const emitted = [l.first];
  for (let i = 0; i < 4; i++) emitted.push(await l.emit());
  await l.delivered(emitted, 30_000, 'five events');
  await l.settle();
  await l.stop();
  exactlyOnce(l.seen, emitted);
});

check('ethers contract.on over HTTP receives every event while providers go down in turn', async (t) => {
  if (target.failover.length < 2 || !target.control) {
    t.skip('needs two providers or more behind the target (CLIENTS_FAILOVER) and the control API (DEVNET_CONTROL_URL)');
    return;
  }
  const l = await listen(KEY.failover);
  const emitted = [l.first];
  // Each provider in turn is down while two events are emitted, and they
  // must arrive before it comes back: whichever was serving the filter,
  // another one took over.
  for (const name of target.failover) {
    const id = await setFault(name, 'down');
    try {
      const now = [await l.emit(), await l.emit()];
      emitted.push(...now);
      await l.delivered(now, 30_000, `with ${name} down`);
    } finally {
      await clearFault(id);
    }
  }
  await l.settle();
  await l.stop();
  exactlyOnce(l.seen, emitted);
}, { timeout: 240_000 });
