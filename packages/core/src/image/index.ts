// @fae/core image: barrel (append one export line per file)
export {};
