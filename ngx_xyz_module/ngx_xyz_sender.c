
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * The senders the dispatcher knows, each in its own file.  For each queue
 * the dispatcher takes the first that the configuration picks.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_xyz_sender.h"


extern ngx_xyz_sender_t  ngx_xyz_mail_sender;        /* ngx_xyz_mail.c */
extern ngx_xyz_sender_t  ngx_xyz_crm_sender;         /* ngx_xyz_crm.c */
extern ngx_xyz_sender_t  ngx_xyz_hubspot_sender;     /* ngx_xyz_crm.c */


ngx_xyz_sender_t  *ngx_xyz_senders[] = {
    &ngx_xyz_mail_sender,
    &ngx_xyz_crm_sender,
    &ngx_xyz_hubspot_sender,
    NULL
};
