// Checked as broker/storage/wrong_way_include.cc by the layers_catch_wrong_way test:
// storage may not include net, so the layer check must refuse this file.
#include "broker/net/session.h"
#include <asio/ip/tcp.hpp>
