
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * The CRM side of the dispatcher over plain buffers: the contact read from
 * an SQS message, the request bodies sent to the CRM, and Retry-After.  No
 * nginx types, so that unit tests and fuzzers call them directly.
 */


#ifndef _NGX_XYZ_CRM_JSON_H_INCLUDED_
#define _NGX_XYZ_CRM_JSON_H_INCLUDED_


#include <stddef.h>
#include <time.h>


#define NGX_XYZ_CRM_BATCH_MAX  100      /* HubSpot's batch upsert limit */


typedef struct {
    const char                    *email;
    const char                    *name;            /* may be NULL */
    const char                    *locale;          /* may be NULL */
    int                            marketing_consent;
    const char                    *registered_at;   /* may be NULL */
    long long                      user_id;         /* -1: unknown */
    long long                      outbox_id;       /* -1: unknown */
} ngx_xyz_crm_contact_t;


/*
 * The body of a single-record call.  With a template (JSON text with
 * {{email}} {{name}} {{locale}} {{marketing_consent}} {{registered_at}}
 * {{user_id}} {{outbox_id}}), strings are rendered with JSON escaping and
 * belong inside quotes in the template; marketing_consent renders as
 * true/false and the ids as numbers (null when unknown), to be written
 * without quotes.  A NULL string renders as nothing.
 *
 * With tpl NULL, the default body:
 *
 *     {"email":..,"name":..,"locale":..,"marketing_consent":true|false,
 *      "registered_at":..,"source":"xyz-signup","external_id":"<outbox id>"}
 *
 * with null for a NULL string.  Returns the length, or -1.
 */
int ngx_xyz_crm_body(const char *tpl, size_t tpl_len,
    const ngx_xyz_crm_contact_t *c, char *out, size_t size);

/*
 * Checks an operator's body template at configuration time: only the
 * placeholders above, and valid JSON once rendered with a sample contact
 * whose strings need escaping.  Returns 0, or -1 with a phrase in err.
 */
int ngx_xyz_crm_template_check(const char *tpl, size_t tpl_len, char *err,
    size_t err_size);

/* an upper bound of the length of the batch below, for the caller's buffer */
size_t ngx_xyz_crm_hubspot_batch_len(const ngx_xyz_crm_contact_t *c,
    size_t n);

/*
 * The body of HubSpot's batch upsert (POST
 * /crm/v3/objects/contacts/batch/upsert), 1-100 contacts:
 *
 *     {"inputs":[{"id":email,"idProperty":"email","properties":{
 *         "email":..,"firstname":name,"hs_language":locale,
 *         "xyz_marketing_consent":"true"|"false"}},...]}
 *
 * firstname and hs_language are left out when NULL.  HubSpot refuses a
 * batch that names one id twice, so a contact whose email (ignoring ASCII
 * case) is already in the batch is left out: the earlier one stands for
 * both.  Returns the length, or -1.
 */
int ngx_xyz_crm_hubspot_batch(const ngx_xyz_crm_contact_t *c, size_t n,
    char *out, size_t size);

/*
 * Reads HubSpot's 207 (multi-status) answer to a batch upsert of the n
 * contacts c: state[i] is NGX_XYZ_CRM_WRITTEN when a member of "results"
 * carries contact i's email (properties.email or id), NGX_XYZ_CRM_REFUSED
 * when a member of "errors" names it (in "id" or any string of its
 * "context"; that error's "message" is copied into detail[i], of
 * detail_size bytes each), else NGX_XYZ_CRM_UNKNOWN.  Emails compare
 * ignoring ASCII case.  Returns 0, or -1 when the answer is not such a
 * document.
 */
#define NGX_XYZ_CRM_UNKNOWN    0
#define NGX_XYZ_CRM_WRITTEN    1
#define NGX_XYZ_CRM_REFUSED    2

int ngx_xyz_crm_hubspot_multi(const char *json, size_t len,
    const ngx_xyz_crm_contact_t *c, size_t n, int *state, char *detail,
    size_t detail_size);

/*
 * Reads a CRM message body (the SQS message: JSON with email, name,
 * locale, marketing_consent, registered_at, user_id, outbox_id) into c,
 * the strings copied into the arena (len + 8 bytes always suffice).  The
 * email is required; the ids may be numbers or strings of digits.
 * Returns the arena bytes used, or -1.
 */
int ngx_xyz_crm_contact_parse(const char *json, size_t len,
    ngx_xyz_crm_contact_t *c, char *arena, size_t arena_size);


#endif /* _NGX_XYZ_CRM_JSON_H_INCLUDED_ */
