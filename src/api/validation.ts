/**
 * Request validation: Fastify's Ajv compiler, twice.
 *
 * - JSON bodies are validated without type coercion. With it, `"threshold":
 *   null` became 0 (exact copies only), `true` became 1 and `["name"]` became
 *   "name", and each was stored as if the client had meant it.
 * - Query strings, path parameters and headers are text, so they keep
 *   coercion, with one check Ajv lacks: "Infinity" coerces to a number that
 *   passes `integer` and skips `minimum`/`maximum`, so no coerced number may
 *   be infinite.
 */
import AjvCompiler from '@fastify/ajv-compiler';

type Validate = ReturnType<AjvCompiler.ValidatorCompiler>;

/** The validator compiler of the app's schema controller; `options` are the server's `ajv` options (never JTD). */
export const buildValidator: AjvCompiler.ValidatorFactory = (externalSchemas, options = {}) => {
  if (options.mode === 'JTD') throw new Error('JTD schemas are not used here');
  const coercing = AjvCompiler()(externalSchemas, options);
  const strict = AjvCompiler()(externalSchemas, { ...options, customOptions: { ...options.customOptions, coerceTypes: false } });
  return (route) => (route.httpPart === 'body' ? strict(route) : finiteOnly(coercing(route)));
};

/** `validate`, also refusing any top-level number (or number in an array) that is not finite. */
function finiteOnly(validate: Validate): Validate {
  const call = validate as (this: unknown, ...args: unknown[]) => boolean;
  function checked(this: unknown, data: unknown, ...rest: unknown[]): boolean {
    if (!call.call(this, data, ...rest)) {
      checked.errors = validate.errors;
      return false;
    }
    const infinite = data && typeof data === 'object' ? Object.entries(data).find(([, value]) => [value].flat().some((v) => typeof v === 'number' && !Number.isFinite(v))) : undefined;
    checked.errors = infinite ? [{ keyword: 'finite', instancePath: `/${infinite[0]}`, schemaPath: '#/finite', params: {}, message: 'must be a finite number' }] : null;
    return !infinite;
  }
  checked.errors = null as Validate['errors'];
  // Fastify passes the parent object (for coercing a root value) when it sees schemaEnv.
  return Object.assign(checked, { schema: validate.schema, schemaEnv: validate.schemaEnv }) as unknown as Validate;
}
