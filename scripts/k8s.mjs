#!/usr/bin/env node
// k8s.mjs — render and check the Kubernetes manifests in deploy/k8s/.
//
//   node scripts/k8s.mjs render DIR       print the rendered objects (YAML)
//   node scripts/k8s.mjs validate DIR     render, then validate every object
//                                         against the Kubernetes schemas
//                                         (npm kubernetes-models), offline
//   node scripts/k8s.mjs compare DIR      render with this script and with
//                                         `kubectl kustomize`; exit 1 when
//                                         they differ, 2 when no kubectl
//
// kustomize is not packaged for Debian 12, so this is a small renderer for
// the subset of kustomization.yaml that deploy/k8s/ uses: `resources`
// (files, and directories with their own kustomization.yaml), `labels`
// (pairs, added to metadata.labels), `images` (name -> newName/newTag),
// `namePrefix`-free `patches` (a path to a strategic-merge patch that names
// its target by apiVersion, kind and metadata.name), and `commonAnnotations`.
// Lists of objects with a `name` (containers, env, volumes, volumeMounts,
// ports) merge by that name, as kustomize's strategic merge does for the
// kinds used here; other lists are replaced. Anything else in a
// kustomization is refused, so the renderer never silently differs.
// `compare` checks it against the real kustomize where kubectl exists.
// With ENV=1, ${NAME} in the output is replaced by the environment
// variable NAME (an unset one is an error): the local overlay's stand-in
// addresses.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import YAML from 'yaml';

const KNOWN = new Set(['apiVersion', 'kind', 'resources', 'labels', 'images',
                       'patches', 'commonAnnotations']);

function loadDocs(file) {
    // YAML 1.1, as Kubernetes reads it (0440 is octal there)
    return YAML.parseAllDocuments(fs.readFileSync(file, 'utf8'), { version: '1.1' })
        .map((d) => {
            if (d.errors.length) {
                throw new Error(`${file}: ${d.errors[0].message}`);
            }
            return d.toJS();
        })
        .filter((o) => o != null);
}

function isObj(v) {
    return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function mergeList(base, patch) {
    const named = (l) => l.every((i) => isObj(i) && typeof i.name === 'string');
    if (!named(base) || !named(patch)) {
        return patch.filter((i) => !(isObj(i) && i.$patch === 'delete'));
    }
    const out = base.map((i) => structuredClone(i));
    const added = [];
    for (const p of patch) {
        const at = out.findIndex((i) => i.name === p.name);
        if (p.$patch === 'delete') {
            if (at >= 0) out.splice(at, 1);
        } else if (at >= 0) {
            out[at] = merge(out[at], p);
        } else {
            added.push(structuredClone(p));
        }
    }
    // kustomize puts the items a patch adds before the others
    return [...added, ...out];
}

function merge(base, patch) {
    if (!isObj(base) || !isObj(patch)) {
        return structuredClone(patch);
    }
    const out = structuredClone(base);
    for (const [k, v] of Object.entries(patch)) {
        if (v === null) {
            delete out[k];
        } else if (Array.isArray(v) && Array.isArray(out[k])) {
            out[k] = mergeList(out[k], v);
        } else if (isObj(v) && isObj(out[k])) {
            out[k] = merge(out[k], v);
        } else {
            out[k] = structuredClone(v);
        }
    }
    return out;
}

function eachContainer(obj, fn) {
    const spec = obj.spec?.template?.spec ?? obj.spec?.jobTemplate?.spec?.template?.spec
        ?? (obj.kind === 'Pod' ? obj.spec : undefined);
    if (!spec) return;
    for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) fn(c);
}

export function render(dir) {
    const kfile = path.join(dir, 'kustomization.yaml');
    const [k] = loadDocs(kfile);
    for (const key of Object.keys(k)) {
        if (!KNOWN.has(key)) {
            throw new Error(`${kfile}: "${key}" is not supported by scripts/k8s.mjs`);
        }
    }
    let objs = [];
    for (const r of k.resources ?? []) {
        const p = path.join(dir, r);
        objs.push(...(fs.statSync(p).isDirectory() ? render(p) : loadDocs(p)));
    }
    for (const entry of k.patches ?? []) {
        if (!entry.path || entry.target) {
            throw new Error(`${kfile}: patches need a path (and no target)`);
        }
        for (const p of loadDocs(path.join(dir, entry.path))) {
            const i = objs.findIndex((o) => o.kind === p.kind
                && o.apiVersion === p.apiVersion
                && o.metadata?.name === p.metadata?.name);
            if (i < 0) {
                throw new Error(`${entry.path}: no ${p.kind} ${p.metadata?.name} to patch`);
            }
            objs[i] = merge(objs[i], p);
        }
    }
    for (const l of k.labels ?? []) {
        if (l.includeSelectors || l.includeTemplates) {
            throw new Error(`${kfile}: labels with includeSelectors/includeTemplates are not supported`);
        }
        for (const o of objs) {
            o.metadata.labels = { ...(o.metadata.labels ?? {}), ...l.pairs };
        }
    }
    if (k.commonAnnotations) {
        for (const o of objs) {
            o.metadata.annotations = { ...(o.metadata.annotations ?? {}), ...k.commonAnnotations };
        }
    }
    for (const img of k.images ?? []) {
        for (const o of objs) {
            eachContainer(o, (c) => {
                const [name] = c.image.split(':');
                if (name === img.name) {
                    const tag = img.newTag ?? c.image.split(':')[1];
                    c.image = (img.newName ?? name) + (tag ? `:${tag}` : '');
                }
            });
        }
    }
    return objs;
}

function substitute(text) {
    return text.replace(/\$\{([A-Z0-9_]+)\}/g, (_, v) => {
        if (process.env[v] === undefined) {
            throw new Error(`\${${v}} is in the manifests but not in the environment`);
        }
        return process.env[v];
    });
}

function dump(objs) {
    const text = objs.map((o) => YAML.stringify(o, { lineWidth: 0, version: '1.1' })).join('---\n');
    return process.env.ENV === '1' ? substitute(text) : text;
}

// the model class of a kind, e.g. apps/v1 Deployment
async function modelOf(o) {
    const [group, version] = o.apiVersion.includes('/')
        ? o.apiVersion.split('/') : ['', o.apiVersion];
    const mod = group === ''
        ? `kubernetes-models/${version}`
        : `kubernetes-models/${group.replace(/\.k8s\.io$/, '.k8s.io')}/${version}`;
    let m;
    try {
        m = await import(mod);
    } catch {
        throw new Error(`no schema for ${o.apiVersion} (${mod})`);
    }
    if (!m[o.kind]) throw new Error(`no schema for ${o.apiVersion} ${o.kind}`);
    return m[o.kind];
}

async function validate(objs) {
    let bad = 0;
    for (const o of objs) {
        const id = `${o.apiVersion} ${o.kind} ${o.metadata?.name}`;
        try {
            const Model = await modelOf(o);
            new Model(o).validate();
            console.log(`ok - ${id}`);
        } catch (e) {
            bad++;
            console.log(`not ok - ${id}: ${e.message.split('\n').slice(0, 6).join(' | ')}`);
        }
    }
    return bad;
}

function canonical(objs) {
    const sortKeys = (v) => Array.isArray(v) ? v.map(sortKeys)
        : isObj(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])]))
        : v;
    return objs.map(sortKeys)
        .sort((a, b) => `${a.kind}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.name}`))
        .map((o) => JSON.stringify(o));
}

async function main() {
    const [cmd, dir] = process.argv.slice(2);
    if (!dir || !['render', 'validate', 'compare'].includes(cmd)) {
        console.error('usage: node scripts/k8s.mjs render|validate|compare DIR');
        process.exit(2);
    }
    const objs = render(dir);
    if (cmd === 'render') {
        process.stdout.write(dump(objs));
    } else if (cmd === 'validate') {
        const bad = await validate(objs);
        console.log(`${objs.length - bad} passed, ${bad} failed`);
        process.exit(bad ? 1 : 0);
    } else {
        let out;
        try {
            out = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
        } catch (e) {
            console.error(`compare: kubectl kustomize is not available (${e.message.split('\n')[0]})`);
            process.exit(2);
        }
        const theirs = canonical(YAML.parseAllDocuments(out, { version: '1.1' }).map((d) => d.toJS()).filter(Boolean));
        const mine = canonical(objs);
        let diff = 0;
        for (let i = 0; i < Math.max(theirs.length, mine.length); i++) {
            if (theirs[i] !== mine[i]) {
                diff++;
                console.log(`differs:\n  kustomize: ${theirs[i]}\n  k8s.mjs:   ${mine[i]}`);
            }
        }
        console.log(diff ? `${diff} object(s) differ` : `${mine.length} objects, the same as kubectl kustomize`);
        process.exit(diff ? 1 : 0);
    }
}

main().catch((e) => { console.error(`k8s.mjs: ${e.message}`); process.exit(1); });
