// Name each module of the API reference after its npm package ("@yieldpoint/core", not
// "core/src"): readers import package names, so the reference should say them.
import { Converter, ReflectionKind } from 'typedoc'

export function load(app) {
  app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context) => {
    for (const mod of context.project.getReflectionsByKind(ReflectionKind.Module)) {
      const m = /^(\w+)\/src$/.exec(mod.name)
      if (m) mod.name = `@yieldpoint/${m[1]}`
    }
  })
}
