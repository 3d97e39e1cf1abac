// kube-split.mjs RENDERED.yaml OUTDIR — splits the rendered local overlay
// into what podman 4.3 (Debian 12) can play (t/091-kube.t): OUTDIR/play.yaml
// with the ConfigMaps and Deployments; one file per Secret for podman's
// secret store, which env secretKeyRef reads; and the migration Job's
// container. What podman 4.3 cannot take is adapted, and only that:
//   - a secret volume makes it panic (nil pointer in VolumeFromSecret):
//     it becomes a ConfigMap volume with the same files;
//   - container ports are refused on the host network ("PortMappings can
//     only be used with Bridge or slirp4netns networking"): removed;
//   - probes would run as healthchecks with curl inside the image, which
//     has none, and the preStop sleep action is unknown: removed (the test
//     polls /healthz and /readyz itself).
// Prints JSON:
// {play, secrets: [{name, file}], secret_values: {name: {key: value}},
//  job: {image, args, env}}.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const YAML = require('../../node_modules/yaml');

const [src, out] = process.argv.slice(2);
const objs = YAML.parseAllDocuments(fs.readFileSync(src, 'utf8'), { version: '1.1' })
    .map((d) => d.toJS()).filter(Boolean);

const result = { secrets: [], secret_values: {} };
const play = [];
const deployments = [];
for (const o of objs) {
    if (o.kind === 'Secret') {
        const values = { ...(o.stringData ?? {}) };
        for (const [k, v] of Object.entries(o.data ?? {})) {
            values[k] = Buffer.from(v, 'base64').toString();
        }
        const s = { apiVersion: 'v1', kind: 'Secret', metadata: { name: o.metadata.name },
                    type: o.type ?? 'Opaque',
                    data: Object.fromEntries(Object.entries(values)
                        .map(([k, v]) => [k, Buffer.from(String(v)).toString('base64')])) };
        // podman 4.3 reads a secretKeyRef's secret as a flat JSON object
        // of base64 values (the Secret's data)
        const file = path.join(out, `secret-${o.metadata.name}.json`);
        fs.writeFileSync(file, JSON.stringify(s.data));
        result.secrets.push({ name: o.metadata.name, file });
        result.secret_values[o.metadata.name] = values;
    } else if (o.kind === 'ConfigMap') {
        play.push(YAML.stringify(o, { version: '1.1' }));
    } else if (o.kind === 'Deployment') {
        deployments.push(o);
    } else if (o.kind === 'Job') {
        const c = o.spec.template.spec.containers[0];
        result.job = { image: c.image, args: c.args ?? [], env: c.env ?? [] };
    }
}
for (const o of deployments) {
    const spec = o.spec.template.spec;
    for (const c of spec.containers) {
        for (const k of ['ports', 'livenessProbe', 'readinessProbe', 'startupProbe', 'lifecycle']) {
            delete c[k];
        }
    }
    for (const v of spec.volumes ?? []) {
        if (v.secret) {
            const name = `secret-volume-${v.secret.secretName}`;
            play.push(YAML.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name },
                                       data: result.secret_values[v.secret.secretName] },
                                     { version: '1.1' }));
            v.configMap = { name, defaultMode: v.secret.defaultMode };
            delete v.secret;
        }
    }
    play.push(YAML.stringify(o, { version: '1.1' }));
}
result.play = path.join(out, 'play.yaml');
fs.writeFileSync(result.play, play.join('---\n'));
console.log(JSON.stringify(result));
