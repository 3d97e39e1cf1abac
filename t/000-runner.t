# Self-test of the Test::Nginx::Socket data format against a plain nginx
# (stock directives only, no module needed). Runs under t/lib's runner and
# under openresty's Test::Nginx alike.

use Test::Nginx::Socket;

repeat_each(2);
no_shuffle();

plan tests => repeat_each() * (blocks() * 2 + 20);

run_tests();

__DATA__

=== TEST 1: return, response headers present and absent
--- config
location = /t {
    add_header X-Bar baz;
    return 200 "hello\n";
}
--- request
GET /t
--- response_headers
Content-Type: text/plain
X-Bar: baz
!X-Foo
--- response_body
hello
--- no_error_log
[error]



=== TEST 2: static file from user_files
--- config
--- user_files
>>> dir/hello.txt
static
--- request
GET /dir/hello.txt
--- response_headers
Content-Length: 7
--- response_body
static



=== TEST 3: 404 is logged (plain and qr// patterns), wait before the log check
--- config
location /files/ { alias html/; }
--- request
GET /files/missing.html
--- error_code: 404
--- wait: 0.1
--- error_log eval
[
    qr/open\(\) "\Q$Test::Nginx::Util::ServRoot\E\/html\/missing\.html" failed/,
    "No such file or directory",
]
--- no_error_log
[alert]



=== TEST 4: must_die on an unknown directive
--- config
bogus_directive on;
--- must_die
--- error_log eval
["[emerg]", 'unknown directive "bogus_directive"']



=== TEST 5: array of requests with per-request status and body
--- config
location = /a { return 200 "a\n"; }
location = /b { return 200 "b\n"; }
--- request eval
["GET /a", "GET /nope", "GET /b"]
--- error_code eval
[200, 404, 200]
--- response_body eval
["a\n", qr/404 Not Found/, "b\n"]
--- no_error_log
[crit]



=== TEST 6: request body sent in two packets, the second one delayed
--- config
location = /echo {
    proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/back;
    proxy_set_header X-Body $request_body;
}
location = /back { return 200 "body=[$http_x_body]\n"; }
--- request eval
[["POST /echo\nhello", {value => " world", delay_before => 0.3}]]
--- timeout: 5
--- response_body
body=[hello world]



=== TEST 7: raw_request
--- config
location = /raw { return 200 "raw ok\n"; }
--- raw_request eval
"GET /raw HTTP/1.0\r\nHost: localhost\r\n\r\n"
--- response_body_like: ^raw ok$



=== TEST 8: raw_request in chunks with raw_request_middle_delay
--- config
location = /raw { return 200 "raw ok\n"; }
--- raw_request eval
["GET /raw HT", "TP/1.0\r\nHost: loc", "alhost\r\n\r\n"]
--- raw_request_middle_delay: 0.1
--- response_body
raw ok



=== TEST 9: chunked response (sub_filter drops Content-Length)
--- config
location = /c.txt {
    root html;
    sub_filter 'a' 'A';
    sub_filter_once off;
    sub_filter_types *;
}
--- user_files
>>> c.txt
banana
--- request
GET /c.txt
--- response_headers
Transfer-Encoding: chunked
--- response_body_like chomp
^bAnAnA$



=== TEST 10: HTTP/1.0 response read until the connection closes
--- config
location = /c.txt {
    root html;
    sub_filter 'a' 'A';
    sub_filter_once off;
    sub_filter_types *;
}
--- user_files
>>> c.txt
banana
--- request
GET /c.txt HTTP/1.0
--- response_headers
!Content-Length
!Transfer-Encoding
--- response_body
bAnAnA



=== TEST 11: more_headers and response_headers_like
--- config
location = /h {
    add_header X-Echo $http_x_foo;
    return 200 "foo=$http_x_foo\n";
}
--- more_headers
X-Foo: bar
--- request
GET /h
--- response_headers_like
X-Echo: ba.
--- response_body
foo=bar



=== TEST 12: init runs after nginx started, before the requests
--- config
--- init
open my $fh, '>', html_dir() . '/init.txt' or die "cannot write: $!";
print $fh "made by init\n";
close $fh;
--- request
GET /init.txt
--- response_body
made by init



=== TEST 13: main_config, http_config and $TEST_NGINX_* expansion
--- main_config
pcre_jit off;
--- http_config
map $uri $mapped {
    default "yes";
}
--- config
location = /env { return 200 "port=$TEST_NGINX_SERVER_PORT mapped=$mapped\n"; }
--- request
GET /env
--- response_body
port=$ServerPort mapped=yes



=== TEST 14: pipelined requests
--- config
location = /p1 { return 200 "p1\n"; }
location = /p2 { return 200 "p2\n"; }
--- pipelined_requests eval
["GET /p1", "GET /p2"]
--- response_body eval
["p1\n", "p2\n"]



=== TEST 15: HEAD request has no body
--- config
location = /t { return 200 "hello\n"; }
--- request
HEAD /t
--- response_body eval
""



=== TEST 16: a block without config reuses the previous server
--- request
GET /t
--- response_body
hello



=== TEST 17: client timeout tolerated with abort
--- config
location = /echo {
    proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/back;
}
location = /back { return 200 "never reached\n"; }
--- raw_request eval
"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\nabc"
--- timeout: 0.3
--- abort
--- ignore_response
--- no_error_log
[alert]



=== TEST 18: skip_nginx
--- skip_nginx: 2: >= 1.0.0
--- config
location = /t { return 500; }
--- request
GET /t
--- response_body
never checked



=== TEST 19: grep_error_log, a plain string, sees only this request's lines
--- config
location /files/ { alias html/; }
--- request
GET /files/missing.html
--- error_code: 404
--- grep_error_log chop
No such file or directory
--- grep_error_log_out
No such file or directory



=== TEST 20: grep_error_log qr//: only the matched part of the line
--- config
location /files/ { alias html/; }
--- request
GET /files/one.html
--- error_code: 404
--- grep_error_log eval: qr{/html/\w+(?=\.html" failed)}
--- grep_error_log_out
/html/one



=== TEST 21: grep_error_log_out as a qr// and at debug level
--- config
location = /t { return 200 "ok\n"; }
--- request
GET /t
--- grep_error_log eval: qr/http finalize request: \d+/
--- grep_error_log_out eval
qr/\Ahttp finalize request: 0\n/
