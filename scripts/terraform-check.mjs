#!/usr/bin/env node
// terraform-check.mjs [DIR] — structural checks of deploy/terraform/ without
// Terraform or its providers (which this machine cannot download):
//
//   1. every *.tf file parses as HCL (npm @cdktf/hcl2json, HashiCorp's own
//      HCL parser compiled to WebAssembly);
//   2. every reference (var., local., data., module., resource.) names
//      something declared in DIR, and every variable is used;
//   3. IAM: every policy is an aws_iam_policy_document; no action has a "*";
//      a "*" resource only for ecr:GetAuthorizationToken (and in the KMS key
//      policy, where it means the key itself); every SQS statement names
//      the project's queues only; the web task may only sqs:SendMessage on
//      the email and CRM queues; the dispatcher task may only receive,
//      delete and change visibility on them and sqs:SendMessage to their
//      dead-letter queues;
//   4. the pieces the design asks for are there and set as it says
//      (encryption, Multi-AZ option, redrive, TLS, DKIM, alarms, scaling).
//
// Not checked: attribute names and types against the AWS provider's schema,
// values AWS would refuse, anything `terraform plan` or `apply` would find.
// Prints "ok - ..." / "not ok - ..." lines, then "N passed, N failed".
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { parse, getReferencesInExpression } = require('../node_modules/@cdktf/hcl2json');

const dir = process.argv[2] ?? path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'deploy', 'terraform');
let passed = 0;
let failed = 0;
function check(ok, name, detail) {
    if (ok) {
        passed++;
        console.log(`ok - ${name}`);
    } else {
        failed++;
        console.log(`not ok - ${name}${detail ? `: ${detail}` : ''}`);
    }
    return ok;
}

// --- 1. parse
const files = fs.readdirSync(dir).filter((f) => f.endsWith('.tf')).sort();
const conf = { resource: {}, data: {}, variable: {}, locals: {}, output: {}, module: {} };
const sources = [];
for (const f of files) {
    let j;
    try {
        j = await parse(f, fs.readFileSync(path.join(dir, f), 'utf8'));
    } catch (e) {
        check(false, `${f} parses`, e.message);
        continue;
    }
    check(true, `${f} parses`);
    sources.push([f, j]);
    for (const [kind, body] of Object.entries(j)) {
        if (kind === 'resource' || kind === 'data') {
            for (const [type, byName] of Object.entries(body)) {
                for (const [name, blocks] of Object.entries(byName)) {
                    conf[kind][`${type}.${name}`] = { file: f, body: blocks[0] };
                }
            }
        } else if (kind === 'locals') {
            for (const l of body) Object.assign(conf.locals, l);
        } else if (kind in conf) {
            for (const [name, blocks] of Object.entries(body)) conf[kind][name] = blocks[0];
        }
    }
}

// --- 2. references
function strings(v, at, out) {
    if (typeof v === 'string') {
        if (v.includes('${')) out.push([at, v]);
    } else if (Array.isArray(v)) {
        v.forEach((x, i) => strings(x, `${at}[${i}]`, out));
    } else if (v && typeof v === 'object') {
        for (const [k, x] of Object.entries(v)) {
            // type constraints and the attribute names of ignore_changes
            // are not value expressions
            if (k === 'ignore_changes' || (k === 'type' && /\.variable\./.test(at))) continue;
            strings(x, `${at}.${k}`, out);
        }
    }
    return out;
}

const used = { variable: new Set() };
const unresolved = [];
let nrefs = 0;
for (const [f, j] of sources) {
    for (const [at, s] of strings(j, f, [])) {
        let refs;
        try {
            refs = await getReferencesInExpression(f, s);
        } catch (e) {
            unresolved.push(`${at}: cannot parse ${s} (${e.message})`);
            continue;
        }
        for (const { value } of refs) {
            nrefs++;
            const p = value.split('.');
            let ok;
            switch (p[0]) {
            case 'var': ok = p[1] in conf.variable; used.variable.add(p[1]); break;
            case 'local': ok = p[1] in conf.locals; break;
            case 'data': ok = `${p[1]}.${p[2]}` in conf.data; break;
            case 'module': ok = p[1] in conf.module; break;
            case 'each': case 'count': case 'self': case 'path': case 'terraform':
                ok = true; break;
            default: ok = `${p[0]}.${p[1]}` in conf.resource;
            }
            if (!ok) unresolved.push(`${at}: ${value}`);
        }
    }
}
check(unresolved.length === 0, `every reference resolves (${nrefs} references)`, unresolved.join('; '));
const unused = Object.keys(conf.variable).filter((v) => !used.variable.has(v));
check(unused.length === 0, 'every variable is used', unused.join(', '));

// --- 3. IAM
const refOf = (s) => (typeof s === 'string' ? s.replace(/^\$\{(.*)\}$/, '$1') : s);
const docs = Object.entries(conf.data).filter(([k]) => k.startsWith('aws_iam_policy_document.'));
const keyPolicies = new Set(Object.entries(conf.resource)
    .filter(([k]) => k.startsWith('aws_kms_key.'))
    .map(([, r]) => refOf(r.body.policy)));

const policyAttrs = [];
for (const [k, r] of Object.entries(conf.resource)) {
    for (const attr of ['policy', 'assume_role_policy']) {
        if (attr in r.body) policyAttrs.push([`${k}.${attr}`, refOf(r.body[attr])]);
    }
}
const inline = policyAttrs.filter(([, v]) => !/^data\.aws_iam_policy_document\.[a-z0-9_]+\.json$/.test(v));
check(inline.length === 0, `every policy (${policyAttrs.length}) is an aws_iam_policy_document`,
      inline.map(([k, v]) => `${k} = ${v}`).join('; '));

const queueArns = new Set(Object.keys(conf.resource)
    .filter((k) => k.startsWith('aws_sqs_queue.')).map((k) => `${k}.arn`));
const wild = [];
const badStar = [];
const badSqs = [];
const stmtsOf = (k) => conf.data[k]?.body.statement ?? [];
for (const [k, d] of docs) {
    const isKeyPolicy = keyPolicies.has(`data.${k}.json`);
    for (const st of d.body.statement ?? []) {
        const actions = st.actions ?? [];
        const resources = (st.resources ?? []).map(refOf);
        for (const a of actions) if (a.includes('*')) wild.push(`${k}: ${a}`);
        if (st.not_actions) wild.push(`${k}: not_actions`);
        for (const p of st.principals ?? []) {
            if ((p.identifiers ?? []).includes('*')) wild.push(`${k}: principal *`);
        }
        if (resources.includes('*') && !isKeyPolicy
            && !actions.every((a) => a === 'ecr:GetAuthorizationToken')) {
            badStar.push(`${k}: ${actions.join(',')} on *`);
        }
        if (actions.some((a) => a.startsWith('sqs:'))) {
            for (const r of resources) if (!queueArns.has(r)) badSqs.push(`${k}: ${r}`);
        }
    }
}
check(wild.length === 0, `no "*" in any action or principal (${docs.length} policy documents)`, wild.join('; '));
check(badStar.length === 0, 'a "*" resource only for ecr:GetAuthorizationToken (and in the key policy)', badStar.join('; '));
check(badSqs.length === 0, "SQS statements name the project's queues only", badSqs.join('; '));

function sqsGrants(docKey) {
    const g = [];
    for (const st of stmtsOf(docKey)) {
        for (const a of (st.actions ?? []).filter((x) => x.startsWith('sqs:'))) {
            for (const r of (st.resources ?? []).map(refOf)) g.push(`${a} ${r}`);
        }
    }
    return g.sort();
}
const web = sqsGrants('aws_iam_policy_document.web_task');
const webWant = ['sqs:SendMessage aws_sqs_queue.crm.arn', 'sqs:SendMessage aws_sqs_queue.email.arn'];
check(JSON.stringify(web) === JSON.stringify(webWant),
      'web task: sqs:SendMessage on the email and CRM queues, nothing else', web.join('; '));
const disp = sqsGrants('aws_iam_policy_document.dispatcher_task');
const dispWant = [];
for (const q of ['email', 'crm']) {
    for (const a of ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:ReceiveMessage']) {
        dispWant.push(`${a} aws_sqs_queue.${q}.arn`);
    }
    dispWant.push(`sqs:SendMessage aws_sqs_queue.${q}_dlq.arn`);
}
// the SES feedback queue: read and deleted; SQS itself redrives it
for (const a of ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:ReceiveMessage']) {
    dispWant.push(`${a} aws_sqs_queue.ses_events.arn`);
}
dispWant.sort();
check(JSON.stringify(disp) === JSON.stringify(dispWant),
      'dispatcher task: receive/delete/change visibility on the queues (and the SES feedback queue), send to their DLQs only',
      disp.join('; '));
const roles = (name) => refOf(conf.resource[`aws_iam_role_policy.${name}`]?.body.role);
check(roles('web_task') === 'aws_iam_role.web_task.id'
      && refOf(conf.resource['aws_ecs_task_definition.web']?.body.task_role_arn) === 'aws_iam_role.web_task.arn',
      'the web task definition runs with the web task role');
check(roles('dispatcher_task') === 'aws_iam_role.dispatcher_task.id'
      && refOf(conf.resource['aws_ecs_task_definition.dispatcher']?.body.task_role_arn) === 'aws_iam_role.dispatcher_task.arn',
      'the dispatcher task definition runs with the dispatcher task role');

// --- 4. the design's pieces
const R = (k) => conf.resource[k]?.body;
const has = (k) => check(Boolean(R(k)), `${k} exists`);
for (const k of ['aws_ecs_cluster.main', 'aws_ecs_service.web', 'aws_ecs_service.dispatcher',
                 'aws_ecs_task_definition.migrate', 'aws_lb.main', 'aws_db_instance.main',
                 'aws_sesv2_email_identity.main', 'aws_sesv2_configuration_set.main',
                 'aws_sesv2_configuration_set_event_destination.bounces', 'aws_sns_topic.ses_events',
                 'aws_appautoscaling_target.web', 'aws_appautoscaling_target.dispatcher',
                 'aws_secretsmanager_secret.jwt', 'aws_secretsmanager_secret.smtp',
                 'aws_secretsmanager_secret.crm']) {
    has(k);
}
for (const t of ['web', 'dispatcher']) {
    check(R(`aws_ecs_task_definition.${t}`)?.requires_compatibilities?.includes('FARGATE'),
          `the ${t} task runs on Fargate`);
}
check(R('aws_ecs_service.web')?.load_balancer?.[0]?.target_group_arn === '${aws_lb_target_group.web.arn}',
      'the web service is behind the load balancer');
check(R('aws_lb_target_group.web')?.health_check?.[0]?.path === '/readyz',
      'the target group checks /readyz');
const https = R('aws_lb_listener.https');
check(https?.protocol === 'HTTPS' && /TLS13/.test(https?.ssl_policy ?? '') && Boolean(https?.certificate_arn),
      'the load balancer listens with TLS (a TLS 1.3 policy and a certificate)');
check(R('aws_lb_listener.http')?.default_action?.[0]?.type === 'redirect', 'plain HTTP is redirected');
const db = R('aws_db_instance.main');
check(db?.engine === 'postgres' && db?.storage_encrypted === true && db?.multi_az === '${var.db_multi_az}'
      && db?.publicly_accessible === false && db?.manage_master_user_password === true,
      'RDS PostgreSQL: encrypted, Multi-AZ as an option, private, password in Secrets Manager');
const queues = Object.entries(conf.resource).filter(([k]) => k.startsWith('aws_sqs_queue.'));
check(queues.every(([, q]) => Boolean(q.body.kms_master_key_id)),
      `every queue (${queues.length}) is encrypted with KMS`);
for (const q of ['email', 'crm', 'ses_events']) {
    check(new RegExp(`deadLetterTargetArn\\s*=\\s*aws_sqs_queue\\.${q}_dlq\\.arn`)
          .test(R(`aws_sqs_queue.${q}`)?.redrive_policy ?? ''),
          `the ${q} queue redrives to its DLQ`);
}
check(Boolean(R('aws_sesv2_email_identity.main')?.dkim_signing_attributes), 'the SES identity signs with DKIM');
const dest = R('aws_sesv2_configuration_set_event_destination.bounces')?.event_destination?.[0];
check(dest?.matching_event_types?.includes('BOUNCE') && dest?.matching_event_types?.includes('COMPLAINT')
      && Boolean(dest?.sns_destination), 'bounces and complaints go to SNS');
const alarms = Object.entries(conf.resource).filter(([k]) => k.startsWith('aws_cloudwatch_metric_alarm.'))
    .map(([, a]) => a.body.metric_name);
for (const m of ['ApproximateNumberOfMessagesVisible', 'xyz_outbox_oldest_pending_seconds',
                 'HTTPCode_Target_5XX_Count', 'CPUUtilization']) {
    check(alarms.includes(m), `an alarm on ${m}`);
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
