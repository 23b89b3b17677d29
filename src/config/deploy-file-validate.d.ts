// Types of the generated deploy-file-validate.js (scripts/gen-validator.mjs).
import type { ErrorObject } from 'ajv';

/** ajv's validator for src/config/schema.ts: true when valid; otherwise `errors` says why. */
declare function validate(data: unknown): boolean;
declare namespace validate {
  let errors: ErrorObject[] | null | undefined;
}
export default validate;
