// The C side of FilterQueue's RabbitMQ backend: rabbitmq-c 0.11 (librabbitmq-dev) plus
// non-variadic wrappers for what Swift cannot call directly.
#ifndef FILTER_CRABBITMQ_SHIM_H
#define FILTER_CRABBITMQ_SHIM_H

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <amqp_ssl_socket.h>
#include <sys/eventfd.h>
#include <poll.h>

/// `amqp_login` with SASL PLAIN: Swift cannot call the variadic original.
static inline amqp_rpc_reply_t filter_amqp_login_plain(
    amqp_connection_state_t connection, const char *vhost, int channel_max, int frame_max,
    int heartbeat, const char *user, const char *password) {
    return amqp_login(connection, vhost, channel_max, frame_max, heartbeat,
                      AMQP_SASL_METHOD_PLAIN, user, password);
}

#endif
