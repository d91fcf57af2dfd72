/**
 * HTML built from tagged templates: every interpolated value is escaped
 * unless it is already `SafeHtml` (the output of another `html` template or
 * of `raw`), so a flow named `<script>` renders as text wherever it appears.
 * Arrays are joined, and `undefined`, `null` and `false` render as nothing,
 * so `${cond && html`…`}` and `${list.map(…)}` read naturally.
 */
export class SafeHtml {
  readonly #text: string;
  constructor(text: string) {
    this.#text = text;
  }
  toString(): string {
    return this.#text;
  }
}

type Value = SafeHtml | string | number | boolean | null | undefined | readonly Value[];

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for an element body or a quoted attribute value. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

function render(value: Value): string {
  if (value === undefined || value === null || value === false) return '';
  if (value instanceof SafeHtml) return value.toString();
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: Value[]): SafeHtml {
  let out = strings[0]!;
  values.forEach((value, i) => {
    out += render(value) + strings[i + 1]!;
  });
  return new SafeHtml(out);
}

/** Markup that is trusted as it is: only for text this codebase wrote, never for a value from a flow or a request. */
export function raw(markup: string): SafeHtml {
  return new SafeHtml(markup);
}
