// viem's watchBlocks, as a dApp follows the chain: every block once, in
// order, each the child of the one before, over HTTP polling and over
// WebSocket (eth_subscribe newHeads).
import assert from 'node:assert/strict';
import { createPublicClient, http, webSocket } from 'viem';
import { check, target } from './lib.mjs';

// Blocks watched per test: enough for heads that arrive in bunches, or
// out of order, to show.
const COUNT = 8;

// watch collects COUNT blocks from watchBlocks (bounded) and any error.
async function watch(client, opts) {
  const blocks = [];
  const errors = [];
  let unwatch;
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out: ${blocks.length} of ${COUNT} blocks in 60 s; ` +
      `blocks ${JSON.stringify(blocks.map((b) => b?.number))}; errors: ${errors.join('; ')}`)), 60_000);
    unwatch = client.watchBlocks({
      ...opts,
      onBlock: (b) => {
        blocks.push(b);
        if (blocks.length >= COUNT) {
          clearTimeout(timer);
          resolve();
        }
      },
      onError: (err) => errors.push(err.shortMessage ?? err.message),
    });
  }).finally(() => unwatch?.());
  return { blocks, errors };
}

// inOrder asserts each block is there, the next number and the child of
// the one before, and that no error was reported.
function inOrder({ blocks, errors }) {
  assert.deepEqual(errors, [], 'watchBlocks reported errors');
  const numbers = blocks.map((b) => (b ? Number(b.number) : null));
  for (let i = 0; i < blocks.length; i++) {
    assert.ok(blocks[i], `block ${i} is missing (viem could not fetch a notified block); numbers ${JSON.stringify(numbers)}`);
    if (i === 0) continue;
    assert.equal(numbers[i], numbers[i - 1] + 1, `every block once, in order: ${JSON.stringify(numbers)}`);
    assert.equal(blocks[i].parentHash, blocks[i - 1].hash, `block ${numbers[i]} is not the child of ${numbers[i - 1]}`);
  }
}

check('viem watchBlocks over HTTP polling sees every block once, in order', async () => {
  const client = createPublicClient({ transport: http(target.http, { retryCount: 0 }) });
  // emitMissed: a dApp that wants every block has viem fetch those that
  // came between two polls.
  inOrder(await watch(client, { poll: true, pollingInterval: 100, emitMissed: true }));
});

check('viem watchBlocks over WebSocket sees every block once, in order', async (t) => {
  if (!target.ws) {
    t.skip('no WebSocket endpoint (RPC_WS_URL)');
    return;
  }
  const transport = webSocket(target.ws, { retryCount: 0 });
  const client = createPublicClient({ transport });
  try {
    inOrder(await watch(client, {}));
  } finally {
    await (await client.transport.getRpcClient()).close();
  }
});
