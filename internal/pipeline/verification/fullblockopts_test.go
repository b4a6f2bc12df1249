package verification

// fullBlockCacheOptions sets the kept verified blocks' bounds. The tests
// set them through it so that, with a no-op copy of it, they run against
// code from before the kept blocks (the "before" of docs/benchmarks.md).
func fullBlockCacheOptions(o *Options, blocks int, bytes int64) {
	o.FullBlockCache, o.FullBlockCacheBytes = blocks, bytes
}
