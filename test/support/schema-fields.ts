/**
 * Every field path of a zod schema as the README's config reference names
 * them: `targets.*.host` (a record's key is `*`), `keep.daily` (the fields of
 * an object a union allows). An object schema met a second time (the same GFS
 * policy under `targets.*.keep`, the same password forms under
 * `mail.smtp.password`) lists its own path only: its fields are documented once.
 */
import { z } from 'zod';

export function schemaFields(schema: z.ZodType): string[] {
  const fields: string[] = [];
  const seen = new Set<z.ZodType>();

  const unwrap = (node: z.ZodType): z.ZodType => {
    if (node instanceof z.ZodOptional || node instanceof z.ZodDefault) return unwrap(node.def.innerType as z.ZodType);
    if (node instanceof z.ZodPipe) return unwrap(node.in as z.ZodType);
    return node;
  };

  const walk = (node: z.ZodType, prefix: string): void => {
    const inner = unwrap(node);
    if (inner instanceof z.ZodObject) {
      if (seen.has(inner)) return;
      seen.add(inner);
      for (const [key, field] of Object.entries(inner.shape as Record<string, z.ZodType>)) {
        const name = prefix === '' ? key : `${prefix}.${key}`;
        fields.push(name);
        walk(field, name);
      }
    } else if (inner instanceof z.ZodRecord) {
      const name = `${prefix}.*`;
      fields.push(name);
      walk(inner.valueType as z.ZodType, name);
    } else if (inner instanceof z.ZodUnion) {
      for (const option of inner.options) walk(option as z.ZodType, prefix);
    }
  };
  walk(schema, '');
  return [...new Set(fields)];
}
