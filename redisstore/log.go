package redisstore

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/redis/go-redis/v9"
)

// SetLogger routes go-redis's own log lines (such as "connection pool:
// failed to dial after 5 attempts", which it prints to stderr for every
// failed dial) to l, for example the logger given to corral.WithLogger. Each
// line is a record at debug level with source=go-redis: a corral.Cache logs
// the store's health itself, once per change, and these lines are the
// detail. go-redis has one logger per process, so this concerns every
// client in it, and reads it without synchronisation: call SetLogger once,
// before making clients. It panics on a nil l.
func SetLogger(l *slog.Logger) {
	if l == nil {
		panic("corral/redisstore: SetLogger(nil)")
	}
	redis.SetLogger(goRedisLog{l})
}

// goRedisLog is a go-redis logger that writes to a slog.Logger.
type goRedisLog struct{ l *slog.Logger }

func (g goRedisLog) Printf(ctx context.Context, format string, v ...any) {
	if ctx == nil {
		ctx = context.Background()
	}
	if !g.l.Enabled(ctx, slog.LevelDebug) {
		return
	}
	msg := strings.TrimPrefix(fmt.Sprintf(format, v...), "redis: ")
	g.l.LogAttrs(ctx, slog.LevelDebug, msg, slog.String("source", "go-redis"))
}
