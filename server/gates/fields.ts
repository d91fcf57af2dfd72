import { z } from 'zod';

/** Field rules shared by the gates' payloads; messages in the words of the rest of the API. */

/** A version, revision, service name or checksum: printable ASCII without spaces. */
export const printable = (max: number) =>
  z
    .string({ error: 'must be a string' })
    .min(1, { error: 'must not be empty' })
    .max(max, { error: `must be at most ${max} characters` })
    .regex(/^[\x21-\x7e]+$/, { error: 'must be printable ASCII without spaces' });

/** What a gate reports about the deployment it maps to, beside the verdict. */
export interface RevisionLinks {
  /** smoke's id of the deployment (`dep_…`). */
  readonly deploymentId: string;
  /** The idempotency key the gate derived from the revision. */
  readonly key: string;
  /** The API's deployment: `GET` it for the whole verification as JSON. */
  readonly link: string;
  /** The deployment's page, for a person: verdict, flows, screenshots, traces. */
  readonly page: string;
}

/** A gate's answer: the status code is part of the protocol for Flagger and GitHub. */
export interface GateAnswer {
  readonly status: number;
  readonly body: Readonly<Record<string, unknown>>;
}
