'use strict'
// The one op writer. An op on the wire is `[kind, field, path, ...args]` (docs/PROTOCOL.md), and
// ops are written as JSON text at mutation time: the values are snapshotted then, and the batch
// crosses into the core as one string. Every op text in lib/ is built here.

/** JSON of a path (segments already in wire form). */
function pathJson(path) {
  return path.length === 0 ? '[]' : JSON.stringify(path)
}

/**
 * The text of one op. `keyJson` is the field name as JSON, `path` an array of wire segments or
 * its JSON text, `args` the rest of the op already as JSON text (or undefined).
 */
function writeOp(kind, keyJson, path, args) {
  let s = `["${kind}",${keyJson}`
  if (path !== null) s += `,${typeof path === 'string' ? path : pathJson(path)}`
  if (args !== undefined) s += `,${args}`
  return s + ']'
}

/** The start of a splice op whose items are still being written. */
function spliceHead(keyJson, path, index, deleteCount) {
  return `["p",${keyJson},${pathJson(path)},${index},${deleteCount},[`
}

/** The start of an append op (`a`) whose items are still being written (a run of pushes). */
function appendHead(keyJson, path) {
  return `["a",${keyJson},${pathJson(path)},[`
}

module.exports = { writeOp, spliceHead, appendHead, pathJson }
