package quality

// MaskJSON exposes maskJSON to the fuzz target.
var MaskJSON = maskJSON
