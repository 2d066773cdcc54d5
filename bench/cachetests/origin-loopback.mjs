// Preloaded into the cache-tests origin server (node --import): the server
// calls listen(port), which would listen on every interface; this binds
// such a listen to 127.0.0.1 instead. With ORIGIN_EXIT_AFTER_S set, the
// server also exits by itself after that many seconds, so that a forgotten
// origin never outlives its run.
import net from 'node:net'

const listen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  const bare = typeof args[0] === 'number' || /^\d+$/.test(String(args[0]))
  if (bare && (args.length === 1 || typeof args[1] === 'function')) {
    args.splice(1, 0, '127.0.0.1')
  }
  return listen.apply(this, args)
}

const exitAfter = Number(process.env.ORIGIN_EXIT_AFTER_S || 0)
if (exitAfter > 0) setTimeout(() => process.exit(0), exitAfter * 1000).unref()
