// The declared baselines' problems, on every page: a declared file that does not load keeps its
// last good content in force (or nothing of it), which the people who rely on its deny list must
// see. Messages come from YAML files and are shown as text, invisible characters escaped.
import { api } from './api.js';
import { clear, h, visible } from './dom.js';

function describe(f) {
  const what = f.inForce === 'last-good' ? `its last good content${f.lastGoodSince ? ` (of ${f.lastGoodSince})` : ''} stays in force` : 'nothing of it is in force';
  return f.error ? `${visible(f.error.text)} — ${what}` : `${visible(f.file)} has a problem — ${what}`;
}

export async function refreshDeclaredBanner(el) {
  let status;
  try {
    status = await api('GET', '/baselines/declared/status');
  } catch {
    return;
  }
  const broken = status.files.filter((f) => f.problem);
  clear(el);
  el.hidden = broken.length === 0;
  if (broken.length === 0) return;
  el.append(
    h('strong', { text: broken.length === 1 ? 'A declared baseline file does not load: ' : `${broken.length} declared baseline files do not load: ` }),
    h('ul', {}, broken.map((f) => h('li', { class: 'mono', text: describe(f) }))),
  );
}
