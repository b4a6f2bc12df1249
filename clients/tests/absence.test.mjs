// What is not there yet, or never was: a block above the head, an unknown
// block hash, transaction or receipt. A node answers null, and the client
// libraries turn that into null (ethers) or their not-found error (viem).
import assert from 'node:assert/strict';
import { after } from 'node:test';
import { ethers } from 'ethers';
import { createPublicClient, http } from 'viem';
import { check, httpProvider, target } from './lib.mjs';

// cacheTimeout -1: every getBlockNumber asks (ethers shares one answer for 250 ms).
const provider = httpProvider(target.http, { cacheTimeout: -1 });
after(() => provider.destroy());
// cacheTime 0: every getBlockNumber asks (viem caches it for 4 s by default).
const viem = createPublicClient({ transport: http(target.http, { retryCount: 0 }), cacheTime: 0 });

// A hash no block or transaction has.
const unknownHash = ethers.id('rpcmesh: no block or transaction has this hash');

// The next block may be mined between the two calls: each probe allows
// that, and there are several so that an endpoint failing only sometimes
// fails the test.
const PROBES = 5;

check('ethers getBlock(head+1) is null', async () => {
  for (let i = 0; i < PROBES; i++) {
    const head = await provider.getBlockNumber();
    const block = await provider.getBlock(head + 1);
    if (block !== null) {
      // Mined meanwhile: then it is the block asked for, and the head moved.
      assert.equal(block.number, head + 1);
      assert.ok(await provider.getBlockNumber() >= head + 1, 'a block above the head was served');
    }
  }
});

check('ethers getBlock(head+1000) is null', async () => {
  const head = await provider.getBlockNumber();
  assert.equal(await provider.getBlock(head + 1000), null);
});

check('ethers getBlock(unknown hash) is null', async () => {
  assert.equal(await provider.getBlock(unknownHash), null);
});

check('ethers getTransaction and getTransactionReceipt of an unknown hash are null', async () => {
  assert.equal(await provider.getTransaction(unknownHash), null);
  assert.equal(await provider.getTransactionReceipt(unknownHash), null);
});

// viem throws BlockNotFoundError where the node answers null.
check('viem getBlock(head+1000) throws BlockNotFoundError', async () => {
  const head = await viem.getBlockNumber();
  await assert.rejects(viem.getBlock({ blockNumber: head + 1000n }), (err) => {
    if (err.name === 'BlockNotFoundError') return true;
    throw err;
  });
});

check('viem getBlock(head+1) is the next block or BlockNotFoundError', async () => {
  for (let i = 0; i < PROBES; i++) {
    const head = await viem.getBlockNumber();
    let block;
    try {
      block = await viem.getBlock({ blockNumber: head + 1n });
    } catch (err) {
      if (err.name === 'BlockNotFoundError') continue;
      throw err;
    }
    assert.equal(block.number, head + 1n);
    assert.ok(await viem.getBlockNumber() >= head + 1n, 'a block above the head was served');
  }
});

check('viem getTransactionReceipt of an unknown hash throws TransactionReceiptNotFoundError', async () => {
  await assert.rejects(viem.getTransactionReceipt({ hash: unknownHash }), (err) => {
    if (err.name === 'TransactionReceiptNotFoundError') return true;
    throw err;
  });
});
