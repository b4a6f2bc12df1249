// Listens for a contract's events through rpcmesh over HTTP with ethers v6,
// as a dApp's contract.on does (eth_newFilter, then eth_getFilterChanges at
// every new block), and prints one JSON line per event until killed.
// Usage: node scripts/filter-events.mjs <http url> <chain id> <address> <topic>
import { JsonRpcProvider, Network } from "ethers";

const [url, chainId, address, topic] = process.argv.slice(2);
const provider = new JsonRpcProvider(url, Network.from(Number(chainId)), { staticNetwork: true, polling: false });
provider.pollingInterval = 200;
await provider.on({ address, topics: [topic] }, (log) => {
  console.log(JSON.stringify({ tx: log.transactionHash, block: log.blockNumber, removed: log.removed }));
});
console.log(JSON.stringify({ ready: true }));
