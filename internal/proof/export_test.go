package proof

// BlindPuts returns c on a store whose Put ignores the version: a store
// without compare-and-set.
func BlindPuts(c Combination) Combination {
	c.blindPuts = true
	return c
}
