// Runs each guide snippet in turn (under tsx); a failed assertion or a throw fails the build.
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

for (const file of process.argv.slice(2)) {
  try {
    await import(pathToFileURL(join(import.meta.dirname, '..', 'snippets', file)).href)
  } catch (error) {
    console.error(`snippets/${file} failed:`, error)
    process.exit(1)
  }
}
