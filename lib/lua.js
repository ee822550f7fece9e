'use strict'
// The Lua scripts of the Redis carrier (lib/redis.js): each runs atomically in Redis, so what it
// reads and writes cannot be interleaved with another member's commands. Keys as listed there.

// The snapshot and every entry after it, read at once: a trim (which only ever removes entries
// older than the previous snapshot) cannot come in between. A space with no snapshot gets one,
// and with it the epoch that tells a restarted, emptied server apart: an empty one for a new
// space, or (re-seeding a server that lost its data) the state of the first member to notice.
// The log is made here too (empty), never by a member's XADD: members append with NOMKSTREAM,
// so a log deleted under them stays gone until a member that noticed has re-seeded the space,
// and that member never holds an entry of the new log in the state it seeds from.
const JOIN = `
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('HSET', KEYS[2], 'id', '0-0', 'q', ARGV[3], 'frame', ARGV[1], 'trim', '0-0', 'epoch', ARGV[2])
end
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('XDEL', KEYS[1], redis.call('XADD', KEYS[1], '*', 'x', ''))
end
local s = redis.call('HMGET', KEYS[2], 'id', 'frame', 'epoch', 'q')
return {s[1], s[2], s[3], s[4], redis.call('XRANGE', KEYS[1], '(' .. s[1], '+')}
`

// A new snapshot, written by the lease holder only, only forward and only a full interval
// (ARGV[5] entries) past the one in place: members that reach the threshold one after the other
// write one snapshot between them, not one each. The log keeps the entries since the previous
// snapshot (a member at most one interval behind still reads on without a gap), older ones are
// trimmed. Returns the sequence number of the snapshot in place afterwards.
const COMPACT = `
if redis.call('GET', KEYS[3]) ~= ARGV[4] then return -1 end
redis.call('DEL', KEYS[3])
local function parse(id)
  local ms, sq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(sq)
end
local cur = redis.call('HMGET', KEYS[2], 'id', 'q')
if not cur[1] then return -1 end
local a, b = parse(ARGV[1])
local c, d = parse(cur[1])
if a < c or (a == c and b <= d) or tonumber(ARGV[3]) - tonumber(cur[2]) < tonumber(ARGV[5]) then return tonumber(cur[2]) end
redis.call('HSET', KEYS[2], 'id', ARGV[1], 'frame', ARGV[2], 'q', ARGV[3], 'trim', cur[1])
redis.call('XTRIM', KEYS[1], 'MINID', cur[1])
return tonumber(ARGV[3])
`

// Whether a snapshot at sequence number ARGV[1] is due (a full interval, ARGV[2], past the one in
// place) and if so the lease: -1 taken, -2 held by another member, else the q of the snapshot in
// place (none due).
const TAKE = `
local q = tonumber(redis.call('HGET', KEYS[1], 'q') or '0')
if tonumber(ARGV[1]) - q < tonumber(ARGV[2]) then return q end
if redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4], 'NX') then return -1 end
return -2
`

// Appends frames whose XADD may or may not have happened (the connection dropped before the
// reply): each one only if no entry after ARGV[1] holds it already. Exactly once, in order.
// ARGV[2] is the writer's epoch.
const RESEND = `
local seen = {}
for _, e in ipairs(redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+')) do
  if e[2][1] == 'b' then seen[e[2][2]] = true end
end
for i = 3, #ARGV do
  if not seen[ARGV[i]] then redis.call('XADD', KEYS[1], '*', 'b', ARGV[i], 'e', ARGV[2]) end
end
return 1
`

module.exports = { JOIN, COMPACT, TAKE, RESEND }
