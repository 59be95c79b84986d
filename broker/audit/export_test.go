package audit

// NodeHash is the RFC 6962 interior node hash, for tests that forge trees.
var NodeHash = nodeHash
