// Watches blocks through rpcmesh over WebSocket with viem, as a dApp would.
// Usage: node scripts/ws-watch-blocks.mjs ws://host/chain COUNT
// Prints one JSON line: {chainId, blockNumber, blocks: [{number, hash, parentHash}]}.
import { createPublicClient, webSocket } from 'viem';

const [url, countArg] = process.argv.slice(2);
const count = Number(countArg || 5);
const client = createPublicClient({ transport: webSocket(url, { retryCount: 0 }) });

const fail = (err) => {
  console.error(String(err && err.stack ? err.stack : err));
  process.exit(1);
};
const timer = setTimeout(() => fail(new Error('timed out watching blocks')), 60_000);

try {
  const chainId = await client.getChainId();
  const blockNumber = await client.getBlockNumber();
  const blocks = [];
  const unwatch = client.watchBlocks({
    // viem subscribes with eth_subscribe("newHeads") on a WebSocket transport.
    onBlock: (b) => {
      blocks.push({ number: Number(b.number), hash: b.hash, parentHash: b.parentHash });
      if (blocks.length >= count) {
        unwatch();
        clearTimeout(timer);
        console.log(JSON.stringify({ chainId, blockNumber: Number(blockNumber), blocks }));
        process.exit(0);
      }
    },
    onError: fail,
  });
} catch (err) {
  fail(err);
}
