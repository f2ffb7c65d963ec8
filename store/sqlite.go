package store

import (
	"context"
	"errors"
)

func openSQLite(ctx context.Context, path string) (Registry, error) {
	return nil, errors.New("open registry: sqlite backend lands in the next commit")
}
