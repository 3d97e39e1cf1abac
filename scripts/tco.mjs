#!/usr/bin/env node
// tco.mjs — the total cost of ownership tables of docs/solucion.md (§6),
// computed from the list prices and the estimates below, so that every
// figure of those tables can be traced to one line here.
//
//   node scripts/tco.mjs            Markdown tables on stdout
//
// Prices: AWS us-east-1, on-demand list prices (sources in the appendix of
// docs/solucion.md). Hours: estimates, with the assumptions next to them.
// Change a line, run it again, paste the tables.

const H = 730;                        // hours in a month

const P = {
    fargateVcpuH: 0.04048,            // Fargate x86, per vCPU-hour
    fargateGbH: 0.004445,             // Fargate, per GB-hour
    rdsSmallH: 0.032,                 // db.t4g.small, Single-AZ
    rdsMicroH: 0.016,                 // db.t4g.micro, Single-AZ
    rdsGp3Gb: 0.115,                  // RDS gp3 storage, GB-month (Single-AZ)
    albH: 0.0225, lcuH: 0.008,        // ALB hour, LCU-hour
    ipv4H: 0.005,                     // public IPv4 address, hour
    natH: 0.045, natGb: 0.045,        // NAT Gateway hour, GB processed
    sesPer1000: 0.10,
    logsGb: 0.50,                     // CloudWatch Logs ingestion
    metric: 0.30, alarm: 0.10,        // custom metric, standard alarm, month
    eksH: 0.10,                       // EKS control plane
    m7gLargeH: 0.0816,                // EC2 m7g.large
    ebsGp3Gb: 0.08,
    wafAcl: 5, wafRule: 1, wafPerM: 0.60,
    secret: 0.40,                     // Secrets Manager, secret-month
    cognitoLiteMau: 0.0055,           // Cognito Lite, MAU above 10,000
    cognitoFreeMau: 10000,
    apigwHttpPerM: 1.00,              // API Gateway HTTP API
    rdsProxyVcpuH: 0.015              // RDS Proxy, vCPU of the instance, hour
};

// Base traffic (estimate): 50,000 registrations a month, half the visitors
// register, 1.1 emails per registration (confirmation, plus resends, resets
// and "you already have an account"), about 0.75 M HTTP requests.
const T = { regs: 50000, emails: 55000, requestsM: 0.75, mau: 55000 };

const task = (vcpu, gb) => (vcpu * P.fargateVcpuH + gb * P.fargateGbH) * H;
const alb = () => (P.albH + 1 * P.lcuH) * H + 2 * P.ipv4H * H;

// Charged to every option alike: the same database (Multi-AZ), the same
// network (one NAT Gateway with its IPv4 address; the CRM is outside AWS,
// so every option needs egress), SES, WAF, secrets, CloudWatch, DNS, KMS.
const common = {
    'RDS PostgreSQL db.t4g.small Multi-AZ + 20 GB gp3':
        2 * P.rdsSmallH * H + 2 * 20 * P.rdsGp3Gb,
    'NAT Gateway (1) + su IPv4 + 5 GB': P.natH * H + P.ipv4H * H + 5 * P.natGb,
    'SQS (≈ 0,3 M solicitudes: capa gratuita)': 0,
    'SES (55.000 emails)': T.emails / 1000 * P.sesPer1000,
    'WAF (1 ACL, 4 reglas, 0,75 M solicitudes)':
        P.wafAcl + 4 * P.wafRule + T.requestsM * P.wafPerM,
    'Secrets Manager (4 secretos)': 4 * P.secret,
    'CloudWatch (2 GB de logs, 25 métricas, 10 alarmas)':
        2 * P.logsGb + 25 * P.metric + 10 * P.alarm,
    'Transferencia a Internet (≈ 4 GB: dentro de los 100 GB gratuitos)': 0,
    'Route 53, ECR, KMS': 2
};

// Staging: a Single-AZ micro database and the option's smallest compute,
// behind the production load balancer where there is one.
const stagingDb = P.rdsMicroH * H + 20 * P.rdsGp3Gb + 2;

// build: hours from scratch to production, same scope (estimate);
// ops: hours a month of operation (estimate).
const options = [
    { id: 'a', name: 'Este módulo en ECS Fargate', build: [780, 1020], ops: [4, 8],
      infra: { 'web 2 × (0,5 vCPU, 1 GB)': 2 * task(0.5, 1),
               'dispatcher 2 × (0,5 vCPU, 1 GB)': 2 * task(0.5, 1),
               'ALB + 2 IPv4': alb() },
      staging: stagingDb + task(0.5, 1) },
    // the same, when XYZ receives the code built and tested: what is left
    // is the hours to production of the document's section 7 (training of
    // a second maintainer included)
    { id: 'a′', name: 'Este módulo, con el código entregado', build: [188, 328], ops: [4, 8],
      infra: null, staging: null },
    { id: 'b', name: 'Propuesta inicial en EKS', build: [400, 600], ops: [15, 30],
      infra: { 'EKS': P.eksH * H,
               '2 × m7g.large + 40 GB EBS': 2 * P.m7gLargeH * H + 40 * P.ebsGp3Gb,
               'ALB + 2 IPv4': alb(),
               'logs y métricas de 4 servicios': 5 },
      staging: stagingDb + P.m7gLargeH * H },
    { id: 'c', name: 'Monolito (Spring Boot o Node) en ECS Fargate', build: [350, 500], ops: [6, 10],
      infra: { 'web 2 × (0,5 vCPU, 2 GB)': 2 * task(0.5, 2),
               'worker 2 × (0,5 vCPU, 2 GB)': 2 * task(0.5, 2),
               'ALB + 2 IPv4': alb() },
      staging: stagingDb + task(0.5, 2) },
    { id: 'd', name: 'Amazon Cognito + Lambda', build: [250, 400], ops: [4, 8],
      infra: { 'Cognito Lite (55.000 MAU)': (T.mau - P.cognitoFreeMau) * P.cognitoLiteMau,
               'RDS Proxy (2 vCPU)': 2 * P.rdsProxyVcpuH * H,
               'Lambda (capa gratuita)': 0,
               'S3 + CloudFront (front end)': 1 },
      staging: stagingDb },
    { id: 'e', name: 'Keycloak en ECS Fargate', build: [300, 450], ops: [10, 20],
      infra: { 'Keycloak 2 × (1 vCPU, 2 GB)': 2 * task(1, 2),
               'worker 2 × (0,5 vCPU, 1 GB)': 2 * task(0.5, 1),
               'ALB + 2 IPv4': alb() },
      staging: stagingDb + task(1, 2) },
    { id: 'f', name: 'Serverless (API Gateway, Lambda, RDS Proxy)', build: [400, 550], ops: [5, 10],
      infra: { 'API Gateway HTTP (0,75 M)': T.requestsM * P.apigwHttpPerM,
               'Lambda (capa gratuita)': 0,
               'RDS Proxy (2 vCPU)': 2 * P.rdsProxyVcpuH * H,
               'S3 + CloudFront (front end)': 1 },
      staging: stagingDb }
];

const RATES = [50, 100];
const sum = (o) => Object.values(o).reduce((a, b) => a + b, 0);
const mid = ([lo, hi]) => (lo + hi) / 2;
const num = (x) => Math.round(x).toLocaleString('es-ES', { useGrouping: 'always' });
const usd = (x) => 'US$ ' + num(x);
const dec = (x) => x.toFixed(2).replace('.', ',');

const commonTotal = sum(common);
for (const o of options) {
    if (o.infra === null) {
        o.infra = options[0].infra;
        o.staging = options[0].staging;
    }
    o.own = sum(o.infra);
    o.month = commonTotal + o.own + o.staging;
}

const out = [];
out.push('### Infraestructura mensual', '', 'Líneas comunes a todas las opciones (US$/mes):', '');
out.push('| línea | US$/mes |', '|---|---|');
for (const [k, v] of Object.entries(common)) out.push(`| ${k} | ${dec(v)} |`);
out.push(`| **total común** | **${dec(commonTotal)}** |`, '');

out.push('Infraestructura mensual por opción (US$/mes):', '');
out.push('| opción | propia | staging | común | **total** |', '|---|---|---|---|---|');
for (const o of options) {
    if (o.id === 'a′') continue;
    const own = Object.entries(o.infra).map(([k, v]) => `${k} ${v.toFixed(0)}`).join('; ');
    out.push(`| (${o.id}) ${o.name} | ${own} = ${o.own.toFixed(0)} | ${o.staging.toFixed(0)} | ${commonTotal.toFixed(0)} | **${o.month.toFixed(0)}** |`);
}
out.push('');

out.push('### Costo total a 12 y 36 meses', '', 'Horas de construcción y de operación en el punto medio de su rango:', '');
out.push('| opción | construcción (h) | operación (h/mes) | infra (US$/mes) | 12 meses a US$ 50/h | 36 meses a US$ 50/h | 12 meses a US$ 100/h | 36 meses a US$ 100/h |');
out.push('|---|---|---|---|---|---|---|---|');
const tco = (o, rate, months) => mid(o.build) * rate + mid(o.ops) * rate * months + o.month * months;
for (const o of options) {
    const cells = [];
    for (const rate of RATES) for (const m of [12, 36]) cells.push(usd(tco(o, rate, m)));
    out.push(`| (${o.id}) ${o.name} | ${num(o.build[0])}–${num(o.build[1])} | ${o.ops[0]}–${o.ops[1]} | ${Math.round(o.month)} | ${cells[0]} | ${cells[1]} | ${cells[2]} | ${cells[3]} |`);
}
out.push('');

out.push('### Punto de equilibrio', '', 'Meses hasta que el ahorro mensual de (a) o de (a′) paga su construcción más cara. "Hasta el mes N": más barata al principio; la otra opción la alcanza en el mes N.', '');
out.push('| comparación | a US$ 50/h | a US$ 100/h |', '|---|---|---|');
for (const a of options.slice(0, 2))
for (const o of options.slice(2)) {
    const cells = RATES.map((rate) => {
        const extra = (mid(a.build) - mid(o.build)) * rate;
        const saving = (mid(o.ops) - mid(a.ops)) * rate + (o.month - a.month);
        if (extra <= 0 && saving >= 0) return 'desde el mes 0';
        if (extra <= 0) return `hasta el mes ${Math.floor(extra / saving)}`;
        if (saving <= 0) return 'nunca (cuesta más cada mes)';
        return `${Math.ceil(extra / saving)} meses`;
    });
    out.push(`| (${a.id}) frente a (${o.id}) ${o.name} | ${cells[0]} | ${cells[1]} |`);
}
out.push('');
console.log(out.join('\n'));
