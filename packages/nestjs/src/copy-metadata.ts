/**
 * Decorators apply bottom-up: with `@SingleFlight() @Get()`, Nest's route metadata already sits
 * on the original function when we replace it, and a wrapper without it would make the route
 * vanish (404). Copy every reflect-metadata key, and the name, onto the wrapper.
 * @internal
 */
export function copyMethodMetadata(from: object, to: object): void {
  for (const key of Reflect.getMetadataKeys(from)) Reflect.defineMetadata(key, Reflect.getMetadata(key, from), to)
  Object.defineProperty(to, 'name', { value: (from as { name?: string }).name, configurable: true })
}
