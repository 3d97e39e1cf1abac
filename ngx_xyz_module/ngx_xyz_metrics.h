
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * Counters shared by all workers, in a shared memory zone, and the
 * location that shows them in Prometheus text format.
 */


#ifndef _NGX_XYZ_METRICS_H_INCLUDED_
#define _NGX_XYZ_METRICS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


typedef enum {
    NGX_XYZ_M_REGISTER_CREATED = 0,
    NGX_XYZ_M_REGISTER_EXISTS,
    NGX_XYZ_M_REGISTER_REJECTED,
    NGX_XYZ_M_REGISTER_UNAVAILABLE,
    NGX_XYZ_M_PUBLISHED_EMAIL,
    NGX_XYZ_M_PUBLISHED_CRM,
    NGX_XYZ_M_PUBLISH_FAILED_EMAIL,
    NGX_XYZ_M_PUBLISH_FAILED_CRM,
    NGX_XYZ_M_SQS_OK,
    NGX_XYZ_M_SQS_ERROR,
    NGX_XYZ_M_SWEPT,
    NGX_XYZ_M_SENT_EMAIL,
    NGX_XYZ_M_SENT_CRM,
    NGX_XYZ_M_RETRIED_EMAIL,
    NGX_XYZ_M_RETRIED_CRM,
    NGX_XYZ_M_FAILED_EMAIL,
    NGX_XYZ_M_FAILED_CRM,
    NGX_XYZ_M_DEAD_LETTERED_EMAIL,
    NGX_XYZ_M_DEAD_LETTERED_CRM,
    NGX_XYZ_M_DUPLICATE_EMAIL,
    NGX_XYZ_M_DUPLICATE_CRM,
    NGX_XYZ_M_CRM_429,
    NGX_XYZ_M_BREAKER_OPENED,
    NGX_XYZ_M_ARGON2_MAPPED,
    NGX_XYZ_M_ARGON2_REUSED,
    NGX_XYZ_M_LAST
} ngx_xyz_metric_e;


ngx_int_t ngx_xyz_metrics_zone(ngx_conf_t *cf);
void ngx_xyz_metrics_add(ngx_uint_t metric, ngx_atomic_int_t n);


#endif /* _NGX_XYZ_METRICS_H_INCLUDED_ */
