/**
 * OpenAPI 3 generated from the routes' TypeBox schemas, with Swagger UI at
 * /docs. Shaped for generated clients: shared schemas keep their `$id` as
 * their component name, every schema with a `title` becomes a named component
 * (so a client names `Batch`, not an anonymous inline type), and each error
 * response says what its status means.
 */
import { STATUS_CODES } from 'node:http';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

type Json = { [key: string]: unknown };
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** A use of a named schema may describe itself and allow null: what it is, without those. */
const shape = (schema: Json) => JSON.stringify({ ...schema, description: undefined, nullable: undefined });

/**
 * Replaces every schema with a `title` under `node` by a reference to
 * `#/components/schemas/<title>`, storing it there once (a use that allows
 * null or describes itself otherwise keeps that beside the reference). Two
 * different schemas under one title would make one of them wrong in every
 * client: that throws, when the document is built (and so in the tests).
 */
export function nameTitledSchemas(node: unknown, components: Json): unknown {
  if (Array.isArray(node)) return node.map((item) => nameTitledSchemas(item, components));
  if (!isObject(node)) return node;
  const walked = Object.fromEntries(Object.entries(node).map(([key, value]) => [key, nameTitledSchemas(value, components)]));
  const title = walked.title;
  if (typeof title !== 'string' || !['type', 'enum', 'allOf', 'anyOf'].some((keyword) => keyword in walked)) return walked;
  const { nullable, description, ...named } = walked;
  const known = components[title] as Json | undefined;
  if (known === undefined) components[title] = { ...named, ...(description === undefined ? {} : { description }) };
  else if (shape(known) !== shape(walked)) throw new Error(`OpenAPI: two different schemas are titled ${title}`);
  const ref = { $ref: `#/components/schemas/${title}` };
  const ownDescription = description !== undefined && description !== (components[title] as Json).description;
  return nullable || ownDescription ? { allOf: [ref], ...(nullable ? { nullable } : {}), ...(ownDescription ? { description } : {}) } : ref;
}

/**
 * A multipart body's schema allows null for the validator (the handler reads
 * the parts, so validation sees no body), but a client must send one.
 */
function requireMultipartBodies(paths: Json): void {
  for (const operations of Object.values(paths)) {
    for (const operation of Object.values(operations as Json)) {
      const schema = (operation as { requestBody?: { content?: Record<string, { schema?: Json }> } }).requestBody?.content?.['multipart/form-data']?.schema;
      if (schema) delete schema.nullable;
    }
  }
}

/**
 * "Every error has this shape." on a 404 tells a reader nothing: each error
 * response says what its status means. A success that answers a named
 * component is described by that component; one with no body by its status.
 */
function describeResponses(paths: Json, schemas: Json): void {
  for (const operations of Object.values(paths)) {
    for (const operation of Object.values(operations as Json)) {
      const responses = (operation as { responses?: Record<string, { description?: string; content?: Json }> }).responses ?? {};
      for (const [status, response] of Object.entries(responses)) {
        const ref = (Object.values(response.content ?? {})[0] as { schema?: { $ref?: string } } | undefined)?.schema?.$ref;
        if (Number(status) >= 400 && ref === '#/components/schemas/ErrorResponse') response.description = STATUS_CODES[Number(status)] ?? 'Error';
        else if (response.description === 'Default Response') response.description = successDescription(Number(status), ref, schemas) ?? response.description;
      }
    }
  }
}

function successDescription(status: number, ref: string | undefined, schemas: Json): string | undefined {
  if (ref?.startsWith('#/components/schemas/')) return (schemas[ref.slice('#/components/schemas/'.length)] as { description?: string } | undefined)?.description;
  return status === 204 ? 'Done; nothing to return.' : undefined;
}

/** Named components, required multipart bodies and worded error responses, in place. */
function shapeForClients(document: Json): void {
  const components = ((document.components as Json | undefined) ??= {});
  const schemas = ((components.schemas as Json | undefined) ??= {});
  // Shared schemas are components already: only what they contain is named.
  for (const [name, schema] of Object.entries(schemas)) {
    schemas[name] = Object.fromEntries(Object.entries(schema as Json).map(([key, value]) => [key, nameTitledSchemas(value, schemas)]));
  }
  const paths = nameTitledSchemas(document.paths ?? {}, schemas) as Json;
  document.paths = paths;
  requireMultipartBodies(paths);
  describeResponses(paths, schemas);
}

export const openapi = fp(async (app: FastifyInstance) => {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'ncii-match',
        version: '1',
        description:
          'Perceptual-hash matching for finding and removing intimate images posted without consent. Images are hashed in memory and never stored.',
      },
      components: {
        securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'An API key from `ncii-match keys create`.' } },
      },
    },
    // Shared schemas (app.addSchema) are named by their $id, not def-0, def-1, ...
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    transformObject: (documents) => {
      const document = 'openapiObject' in documents ? documents.openapiObject : documents.swaggerObject;
      shapeForClients(document as Json);
      return document;
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
});
