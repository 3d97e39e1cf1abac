# shellcheck shell=bash
# scripts/lib/stack.sh — the local stack that nginx and the suites talk to:
# PostgreSQL (scripts/pg.sh), the SQS emulator (sqs.sh), the mail catcher (mail.sh)
# and the fake CRM (crm.sh). Sourced by run.sh, test.sh and the benches, after S
# (the scripts directory) is set.
#
#   stack_start SERVICE...  starts each of pg, sqs, mail, crm named, in that order,
#                           and remembers those that were not running before
#   stack_started SERVICE   did stack_start start it?
#   stack_stop              stops those again, the last started first; the ones
#                           someone else started are left running
#   stack_addresses         sets, for the services that run, SQS_ENDPOINT and the
#                           queue URLs SQS_EMAIL_QUEUE SQS_CRM_QUEUE SQS_EMAIL_DLQ
#                           SQS_CRM_DLQ SQS_FEEDBACK_QUEUE SQS_FEEDBACK_DLQ; SMTP_URL
#                           MAIL_WEB MAIL_API; CRM_URL CRM_ADMIN
#   stack_test_env          exports those addresses under the names the suites read
#                           (TEST_NGINX_SQS_ENDPOINT, ..., see scripts/test.sh)

STACK_STARTED=()

stack_start() {
    local svc
    for svc in "$@"; do
        # Recorded before the start, so that a failure half-way stops it too.
        if ! "$S/$svc.sh" status >/dev/null 2>&1; then
            STACK_STARTED+=("$svc")
        fi
        "$S/$svc.sh" start
    done
}

stack_started() {
    local svc
    for svc in "${STACK_STARTED[@]}"; do
        [ "$svc" = "$1" ] && return 0
    done
    return 1
}

stack_stop() {
    local i
    for (( i = ${#STACK_STARTED[@]} - 1; i >= 0; i-- )); do
        "$S/${STACK_STARTED[i]}.sh" stop || true
    done
    STACK_STARTED=()
}

# shellcheck disable=SC2034  # the variables are for the caller
stack_addresses() {
    if "$S/sqs.sh" status >/dev/null 2>&1; then
        SQS_ENDPOINT="$("$S/sqs.sh" endpoint)"
        SQS_EMAIL_QUEUE="$("$S/sqs.sh" queue-url xyz-email)"
        SQS_CRM_QUEUE="$("$S/sqs.sh" queue-url xyz-crm)"
        SQS_EMAIL_DLQ="$("$S/sqs.sh" queue-url xyz-email-dlq)"
        SQS_CRM_DLQ="$("$S/sqs.sh" queue-url xyz-crm-dlq)"
        SQS_FEEDBACK_QUEUE="$("$S/sqs.sh" queue-url xyz-ses-feedback)"
        SQS_FEEDBACK_DLQ="$("$S/sqs.sh" queue-url xyz-ses-feedback-dlq)"
    fi
    if "$S/mail.sh" status >/dev/null 2>&1; then
        SMTP_URL="$("$S/mail.sh" smtp-url)"
        MAIL_WEB="$("$S/mail.sh" web-url)"
        MAIL_API="$("$S/mail.sh" api-url)"
    fi
    if "$S/crm.sh" status >/dev/null 2>&1; then
        CRM_URL="$("$S/crm.sh" url)"
        CRM_ADMIN="$("$S/crm.sh" admin-url)"
    fi
}

stack_test_env() {
    stack_addresses
    export TEST_NGINX_SQS_ENDPOINT="$SQS_ENDPOINT"
    export TEST_NGINX_SQS_EMAIL_QUEUE="$SQS_EMAIL_QUEUE" TEST_NGINX_SQS_CRM_QUEUE="$SQS_CRM_QUEUE"
    export TEST_NGINX_SQS_EMAIL_DLQ="$SQS_EMAIL_DLQ" TEST_NGINX_SQS_CRM_DLQ="$SQS_CRM_DLQ"
    export TEST_NGINX_SQS_FEEDBACK_QUEUE="$SQS_FEEDBACK_QUEUE"
    export TEST_NGINX_SQS_FEEDBACK_DLQ="$SQS_FEEDBACK_DLQ"
    export TEST_NGINX_SMTP_URL="$SMTP_URL" TEST_NGINX_MAILDEV_API="$MAIL_API"
    export TEST_NGINX_CRM_URL="$CRM_URL" TEST_NGINX_CRM_ADMIN="$CRM_ADMIN"
}
