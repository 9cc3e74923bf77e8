// A static server for the built site on 127.0.0.1 (a free port), resolving clean URLs the way
// the hosting does: /guide/stampede → guide/stampede.html, /guide/ → guide/index.html.
import { createReadStream, existsSync, statSync } from 'node:fs'
import { createServer } from 'node:http'
import { extname, join, normalize } from 'node:path'

const types = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain',
  '.xml': 'application/xml',
}

export function resolveFile(root, urlPath) {
  const path = normalize(decodeURIComponent(urlPath.split(/[?#]/)[0])).replace(/^(\.\.[/\\])+/, '')
  for (const candidate of [path, `${path}.html`, join(path, 'index.html')]) {
    const file = join(root, candidate)
    if (file.startsWith(root) && existsSync(file) && statSync(file).isFile()) return file
  }
  return undefined
}

/** Serves `root`; resolves with `{ url, close }`. */
export async function serve(root) {
  const server = createServer((req, res) => {
    const file = resolveFile(root, req.url ?? '/')
    if (!file) {
      res.writeHead(404, { 'content-type': 'text/html; charset=utf-8' })
      const notFound = join(root, '404.html')
      return existsSync(notFound) ? createReadStream(notFound).pipe(res) : res.end('not found')
    }
    res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' })
    createReadStream(file).pipe(res)
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) }
}
