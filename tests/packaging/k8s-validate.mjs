// tests/packaging/k8s-validate.mjs: validates rendered Kubernetes manifests
// (`kubectl kustomize DIR`, multi-document YAML) in two passes.
//
//   node k8s-validate.mjs FILE [--namespace NS] [--name LABEL]
//
// 1. Schemas: every object against its kind's OpenAPI schema, through the
//    ajv validators of the npm packages kubernetes-models (core kinds) and
//    @kubernetes-models/prometheus-operator (ServiceMonitor, PrometheusRule).
//    A kind neither package knows is an error. These validators check types,
//    required fields and formats; they do not reject unknown fields, which
//    is why the second pass spells out the fields that matter.
// 2. What the release plan relies on: the gateway's probes on
//    /q/health/started|ready|live, a preStop that drains through the admin
//    API, terminationGracePeriodSeconds above drain_grace_ms +
//    drain_timeout_ms of the ConfigMap's gateway.yaml, non-root and a
//    read-only root, anti-affinity across zones; no replicas where an HPA
//    scales; every selector (Service, PDB, NetworkPolicy, ServiceMonitor)
//    matching pods or Services that exist, every named port existing;
//    Services on 9003 and 9004; the gateway config's upstream targets being
//    Services of this render; a TLS Secret with both keys; every namespaced
//    object in NS when given.
//
// Prints one line per problem and "NAME: N objects, 0 problems" when clean;
// exit status 1 on any problem. NODE_PATH must hold the npm packages.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const args = process.argv.slice(2);
const file = args[0];
const opt = (name) => { const i = args.indexOf(name); return i > 0 ? args[i + 1] : undefined; };
const wantNs = opt('--namespace');
const label = opt('--name') || file;
if (!file) { console.error('usage: node k8s-validate.mjs FILE [--namespace NS] [--name LABEL]'); process.exit(2); }

// resolve packages from NODE_PATH (an ESM import does not read it)
const nodePath = (process.env.NODE_PATH || '').split(path.delimiter).filter(Boolean);
const req = createRequire(path.join(nodePath[0] || process.cwd(), 'noop.js'));
const resolveIn = (spec) => {
  for (const dir of nodePath) {
    const pkgName = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
    const rest = spec.slice(pkgName.length);
    const pkgDir = path.join(dir, pkgName);
    if (fs.existsSync(pkgDir)) {
      const f = path.join(pkgDir, rest + (rest ? '.js' : ''));
      if (!rest) return path.join(pkgDir, JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'))).main || 'index.js');
      if (fs.existsSync(f)) return f;
      return null;
    }
  }
  return null;
};
const YAML = req('yaml');

const problems = [];
const bad = (what) => problems.push(what);

const docs = YAML.parseAllDocuments(fs.readFileSync(file, 'utf8'));
const objs = [];
for (const d of docs) {
  if (d.errors.length) { for (const e of d.errors) bad(`YAML: ${e.message}`); continue; }
  const o = d.toJS();
  if (o == null) continue;
  objs.push(o);
}
if (objs.length === 0) bad('no objects');

const id = (o) => `${o.kind}/${o.metadata && o.metadata.name}`;

// ---- 1. schemas
for (const o of objs) {
  if (!o.apiVersion || !o.kind) { bad(`an object without apiVersion/kind: ${JSON.stringify(o).slice(0, 80)}`); continue; }
  const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['', o.apiVersion];
  const spec = group === 'monitoring.coreos.com'
    ? `@kubernetes-models/prometheus-operator/${group}/${version}/${o.kind}`
    : `kubernetes-models/${group ? group + '/' : ''}${version}/${o.kind}`;
  const f = resolveIn(spec);
  if (!f) { bad(`${id(o)}: no schema for ${o.apiVersion} ${o.kind} (${spec})`); continue; }
  const mod = await import(f);
  const Klass = mod[o.kind];
  try {
    new Klass(o).validate();
  } catch (e) {
    bad(`${id(o)}: schema: ${e.message}`);
  }
}

// ---- 2. semantics
const byKind = (k) => objs.filter((o) => o.kind === k);
const find = (k, n) => objs.find((o) => o.kind === k && o.metadata.name === n);
const matches = (sel, labels) => !!sel && Object.entries(sel).every(([k, v]) => labels && labels[k] === v);
const workloads = byKind('Deployment');
const podLabels = workloads.map((d) => (d.spec.template.metadata || {}).labels || {});
const matchesSomePod = (sel) => podLabels.some((l) => matches(sel, l));

const namespaced = new Set(['ServiceAccount', 'ConfigMap', 'Secret', 'Service', 'Deployment', 'PodDisruptionBudget',
  'HorizontalPodAutoscaler', 'Ingress', 'NetworkPolicy', 'ServiceMonitor', 'PrometheusRule']);
if (wantNs) {
  for (const o of objs) {
    if (namespaced.has(o.kind) && o.metadata.namespace !== wantNs) bad(`${id(o)}: namespace ${o.metadata.namespace}, want ${wantNs}`);
  }
}

const toMs = (v) => {
  if (typeof v === 'number') return v;
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(String(v).trim());
  if (!m) return NaN;
  return Number(m[1]) * ({ ms: 1, s: 1000, m: 60000, h: 3600000 }[m[2] || 'ms']);
};

const gw = find('Deployment', 'aurigraph-gateway');
if (!gw) bad('no Deployment aurigraph-gateway');
const gwCfgMap = gw && (gw.spec.template.spec.volumes || [])
  .map((v) => v.configMap && v.configMap.name).filter(Boolean)
  .map((n) => find('ConfigMap', n)).find(Boolean);
let gwCfg = null;
if (gw && !gwCfgMap) bad('Deployment/aurigraph-gateway: mounts no ConfigMap of this render');
if (gwCfgMap) {
  try { gwCfg = YAML.parse((gwCfgMap.data || {})['gateway.yaml'] || ''); } catch (e) { bad(`${id(gwCfgMap)}: gateway.yaml: ${e.message}`); }
  if (!gwCfg) bad(`${id(gwCfgMap)}: no gateway.yaml`);
}

if (gw) {
  const ps = gw.spec.template.spec;
  const c = (ps.containers || []).find((x) => x.name === 'gateway') || (ps.containers || [])[0];
  if (!c) bad('Deployment/aurigraph-gateway: no container');
  else {
    if (!/(^|\/)aurigraph-gateway(:|@|$)/.test(c.image || '')) bad(`gateway image ${c.image}: not aurigraph-gateway`);
    const probe = (p, want) => {
      const g = c[p] && c[p].httpGet;
      if (!g) bad(`gateway: no ${p} with httpGet`);
      else if (g.path !== want) bad(`gateway: ${p} path ${g.path}, want ${want}`);
    };
    probe('startupProbe', '/q/health/started');
    probe('readinessProbe', '/q/health/ready');
    probe('livenessProbe', '/q/health/live');
    const pre = c.lifecycle && c.lifecycle.preStop;
    const cmd = pre && pre.exec ? pre.exec.command.join(' ') : pre && pre.httpGet ? pre.httpGet.path : '';
    if (!/\/admin\/drain\b/.test(cmd)) bad('gateway: preStop does not drain through the admin API (POST /admin/drain)');
    if (pre && pre.exec && !/-X\s+POST|--request\s+POST|--data|-d\s/.test(cmd)) bad('gateway: preStop must POST /admin/drain');
    if (pre && pre.exec && !/content-type:\s*application\/json/i.test(cmd)) bad('gateway: preStop must say Content-Type: application/json (the admin API answers other changes 415)');
    if (gwCfg) {
      const adminListen = (gwCfg.admin && (gwCfg.admin.listen || gwCfg.admin)) || '127.0.0.1:9005';
      const port = String(adminListen).split(':').pop();
      if (cmd && !cmd.includes(`:${port}/admin/drain`)) bad(`gateway: preStop calls ${cmd}, but the admin API listens on ${adminListen}`);
      const drain = toMs(gwCfg.drain_timeout_ms ?? 30000) + toMs(gwCfg.drain_grace_ms ?? 0);
      const grace = ps.terminationGracePeriodSeconds;
      if (!(grace * 1000 > drain)) bad(`gateway: terminationGracePeriodSeconds ${grace} is not longer than drain_grace_ms + drain_timeout_ms (${drain} ms)`);
      const listen = [].concat(gwCfg.listen || '0.0.0.0:9003');
      const cport = (c.ports || []).find((p) => p.name === 'http');
      if (!cport) bad('gateway: no container port named http');
      else if (!listen.some((l) => String(l).endsWith(`:${cport.containerPort}`))) bad(`gateway: container port ${cport.containerPort} is not in listen ${listen}`);
      // upstream targets: Services of this render on their ports
      for (const cl of gwCfg.clusters || []) {
        const targets = [].concat(cl.targets || [], ...(cl.versions || []).map((v) => v.targets || []));
        for (const t of targets) {
          const [host, port] = [String(t).slice(0, String(t).lastIndexOf(':')), Number(String(t).split(':').pop())];
          const svc = find('Service', host.split('.')[0]);
          if (!svc) bad(`gateway config: target ${t}: no Service ${host} in this render`);
          else if (!(svc.spec.ports || []).some((p) => p.port === port)) bad(`gateway config: target ${t}: Service ${host} has no port ${port}`);
        }
      }
    }
    const sc = c.securityContext || {};
    if (sc.readOnlyRootFilesystem !== true) bad('gateway: readOnlyRootFilesystem is not true');
    if (sc.allowPrivilegeEscalation !== false) bad('gateway: allowPrivilegeEscalation is not false');
    if (!((sc.capabilities || {}).drop || []).includes('ALL')) bad('gateway: capabilities are not all dropped');
    if (!c.resources || !c.resources.limits || !c.resources.limits.memory) bad('gateway: no memory limit');
  }
  const psc = ps.securityContext || {};
  if (psc.runAsNonRoot !== true || !(psc.runAsUser > 0)) bad('gateway: not runAsNonRoot with a numeric runAsUser');
  const anti = (((ps.affinity || {}).podAntiAffinity || {}).preferredDuringSchedulingIgnoredDuringExecution || [])
    .map((t) => t.podAffinityTerm)
    .concat(((ps.affinity || {}).podAntiAffinity || {}).requiredDuringSchedulingIgnoredDuringExecution || []);
  if (!anti.some((t) => t && t.topologyKey === 'topology.kubernetes.io/zone' && matches(t.labelSelector.matchLabels, ps.containers && gw.spec.template.metadata.labels)))
    bad('gateway: no pod anti-affinity across zones (topology.kubernetes.io/zone) on its own pods');
}

for (const d of workloads) {
  const sel = d.spec.selector && d.spec.selector.matchLabels;
  if (!matches(sel, d.spec.template.metadata.labels)) bad(`${id(d)}: selector does not match its pod template`);
  for (const c of d.spec.template.spec.containers) {
    if (!c.image) bad(`${id(d)}: container ${c.name} has no image`);
    for (const p of ['readinessProbe', 'livenessProbe']) if (!c[p]) bad(`${id(d)}: container ${c.name} has no ${p}`);
  }
}

for (const h of byKind('HorizontalPodAutoscaler')) {
  const t = h.spec.scaleTargetRef;
  const d = find(t.kind, t.name);
  if (!d) bad(`${id(h)}: scales ${t.kind}/${t.name}, which is not in this render`);
  else if (d.spec.replicas != null) bad(`${id(d)}: has replicas ${d.spec.replicas} while ${id(h)} scales it (each apply would reset the count)`);
  if (!(h.spec.minReplicas >= 2)) bad(`${id(h)}: minReplicas ${h.spec.minReplicas} < 2`);
  if (!(h.spec.maxReplicas >= h.spec.minReplicas)) bad(`${id(h)}: maxReplicas < minReplicas`);
  const pdb = byKind('PodDisruptionBudget').find((p) => d && matches(p.spec.selector.matchLabels, d.spec.template.metadata.labels));
  if (d && !pdb) bad(`${id(d)}: no PodDisruptionBudget`);
  if (pdb && typeof pdb.spec.minAvailable === 'number' && !(pdb.spec.minAvailable < h.spec.minReplicas))
    bad(`${id(pdb)}: minAvailable ${pdb.spec.minAvailable} leaves no pod evictable at minReplicas ${h.spec.minReplicas}`);
}
for (const p of byKind('PodDisruptionBudget')) {
  if (!matchesSomePod(p.spec.selector.matchLabels)) bad(`${id(p)}: selects no pods of this render`);
}

const portNames = (sel) => workloads
  .filter((d) => matches(sel, d.spec.template.metadata.labels))
  .flatMap((d) => d.spec.template.spec.containers.flatMap((c) => (c.ports || []).map((p) => p.name)));
for (const s of byKind('Service')) {
  if (!matchesSomePod(s.spec.selector)) bad(`${id(s)}: selector ${JSON.stringify(s.spec.selector)} matches no pods`);
  for (const p of s.spec.ports || []) {
    if (typeof p.targetPort === 'string' && !portNames(s.spec.selector).includes(p.targetPort))
      bad(`${id(s)}: targetPort ${p.targetPort} is no container port of its pods`);
  }
}
const svcPorts = byKind('Service').flatMap((s) => (s.spec.ports || []).map((p) => p.port));
for (const want of [9003, 9004]) if (!svcPorts.includes(want)) bad(`no Service on port ${want}`);

for (const m of byKind('ServiceMonitor')) {
  const svc = byKind('Service').filter((s) => matches(m.spec.selector.matchLabels, s.metadata.labels));
  if (svc.length === 0) bad(`${id(m)}: selects no Service`);
  for (const e of m.spec.endpoints || []) {
    if (!svc.some((s) => (s.spec.ports || []).some((p) => p.name === e.port))) bad(`${id(m)}: endpoint port ${e.port} is on no selected Service`);
    if (e.path !== '/q/metrics') bad(`${id(m)}: path ${e.path}, want /q/metrics`);
  }
}
for (const r of byKind('PrometheusRule')) {
  const rules = (r.spec.groups || []).flatMap((g) => g.rules || []);
  if (rules.length === 0) bad(`${id(r)}: no rules`);
  for (const x of rules) if (!x.expr) bad(`${id(r)}: rule ${x.alert || x.record} has no expr`);
}
for (const n of byKind('NetworkPolicy')) {
  const sel = n.spec.podSelector.matchLabels;
  if (sel && !matchesSomePod(sel)) bad(`${id(n)}: podSelector matches no pods`);
  for (const rule of [...(n.spec.ingress || []), ...(n.spec.egress || [])]) {
    for (const peer of [...(rule.from || []), ...(rule.to || [])]) {
      if (peer.podSelector && peer.podSelector.matchLabels && !peer.namespaceSelector && !matchesSomePod(peer.podSelector.matchLabels))
        bad(`${id(n)}: peer podSelector ${JSON.stringify(peer.podSelector.matchLabels)} matches no pods`);
    }
  }
}
for (const s of byKind('Secret')) {
  if (s.type === 'kubernetes.io/tls' && !(s.data && 'tls.crt' in s.data && 'tls.key' in s.data)) bad(`${id(s)}: a TLS Secret without tls.crt and tls.key`);
}
for (const i of byKind('Ingress')) {
  for (const t of i.spec.tls || []) if (!find('Secret', t.secretName)) bad(`${id(i)}: TLS secret ${t.secretName} not in this render`);
  for (const r of i.spec.rules || []) for (const p of (r.http || {}).paths || []) {
    const s = find('Service', p.backend.service.name);
    if (!s) bad(`${id(i)}: backend ${p.backend.service.name} not in this render`);
  }
}

for (const p of problems) console.log(`${label}: ${p}`);
console.log(`${label}: ${objs.length} objects, ${problems.length} problems`);
process.exit(problems.length ? 1 : 0);
