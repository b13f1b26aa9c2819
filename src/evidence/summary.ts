/** The summary a person reads: one page, printable to PDF, in the case's language (English otherwise). */
import type { AuditExtract, EvidenceDocument } from './document.js';

const TEXT = {
  en: {
    title: 'Evidence package',
    intro: 'Copies of a registered photo were found in captured content. This page lists where and when. No image is part of this package.',
    cases: 'Case',
    registered: 'registered',
    made: 'Package made',
    by: 'by',
    count: 'Matches',
    columns: ['Match', 'Platform', 'Group', 'Message link', 'Captured', 'Found', 'Match kind', 'Status'],
    whole: 'whole image',
    region: 'part of the image',
    verify:
      'This package is signed. To check that nothing in it was changed, follow docs/evidence.md: the signature over MANIFEST.sha256 is checked with the public key whose fingerprint is',
    chain: 'Audit log entries included',
    head: 'newest log entry when made',
  },
  es: {
    title: 'Paquete de pruebas',
    intro: 'Se encontraron copias de una foto registrada en contenido capturado. Esta página indica dónde y cuándo. Ninguna imagen forma parte de este paquete.',
    cases: 'Caso',
    registered: 'registrado',
    made: 'Paquete creado',
    by: 'por',
    count: 'Coincidencias',
    columns: ['Coincidencia', 'Plataforma', 'Grupo', 'Enlace del mensaje', 'Capturado', 'Encontrado', 'Tipo', 'Estado'],
    whole: 'imagen completa',
    region: 'parte de la imagen',
    verify:
      'Este paquete está firmado. Para comprobar que nada fue modificado, siga docs/evidence.md: la firma sobre MANIFEST.sha256 se comprueba con la clave pública cuya huella es',
    chain: 'Entradas del registro de auditoría incluidas',
    head: 'última entrada del registro al crearlo',
  },
} as const;

export const SUMMARY_LANGUAGES = Object.keys(TEXT) as (keyof typeof TEXT)[];

export function summaryLanguage(wanted: string | undefined): keyof typeof TEXT {
  const base = wanted?.toLowerCase().split(/[-_]/)[0];
  return SUMMARY_LANGUAGES.find((l) => l === base) ?? 'en';
}

const escape = (text: string | number | null) =>
  String(text ?? '–').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export function evidenceSummary(doc: EvidenceDocument, audit: AuditExtract): string {
  const t = TEXT[summaryLanguage(doc.language)];
  const rows = doc.matches.map((m) =>
    [m.id, m.item.platform, m.item.group, m.item.messageUrl, m.item.capturedAt, m.foundAt, m.via === 'whole' ? t.whole : t.region, m.status].map((c) => `<td>${escape(c)}</td>`).join(''),
  );
  const cases = doc.cases.map((c) => `<li>${t.cases} <b>${escape(c.caseNumber)}</b> (${t.registered} ${escape(c.registeredAt)})</li>`).join('');
  const head = audit.chainHead ? `#${audit.chainHead.id} ${audit.chainHead.hash}` : '–';
  return `<!doctype html>
<html lang="${doc.language}"><head><meta charset="utf-8"><title>${t.title}</title>
<style>body{font:11pt sans-serif;margin:2em}table{border-collapse:collapse;width:100%}td,th{border:1px solid #999;padding:4px;font-size:9pt;word-break:break-all}code{font-size:8pt}</style></head>
<body><h1>${t.title}</h1><p>${t.intro}</p><ul>${cases}</ul>
<p>${t.made}: ${escape(doc.createdAt)} ${t.by} ${escape(doc.createdBy)}. ${t.count}: <b>${doc.matches.length}</b></p>
<table><thead><tr>${t.columns.map((c) => `<th>${c}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r}</tr>`).join('\n')}</tbody></table>
<p>${t.chain}: ${audit.entries.length}; ${t.head}: <code>${escape(head)}</code></p>
<p>${t.verify} <code>${escape(doc.signingKeyId)}</code>.</p>
</body></html>
`;
}
