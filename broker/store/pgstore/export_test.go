package pgstore

// PoolMaxConns is the pool's size.
func PoolMaxConns(s *Store) int32 { return s.pool.Config().MaxConns }
