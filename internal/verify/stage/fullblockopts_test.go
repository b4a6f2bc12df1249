package stage

// fullBlockCacheOptions sets the kept verified blocks' bounds.
func fullBlockCacheOptions(o *Options, blocks int, bytes int64) {
	o.FullBlockCache, o.FullBlockCacheBytes = blocks, bytes
}
