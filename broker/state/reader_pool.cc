#include "broker/state/reader_pool.h"

#include <asio/post.hpp>

namespace herald::broker {

ReaderPool::ReaderPool(asio::io_context& io, std::size_t threads) : io_(io), pool_(threads) {}

ReaderPool::~ReaderPool() { Stop(); }

void ReaderPool::Run(Job job) {
  asio::post(pool_, [io = &io_, job = std::move(job)] {
    Completion done = job();
    asio::post(*io, std::move(done));
  });
}

void ReaderPool::Stop() {
  pool_.stop();
  pool_.join();
}

}  // namespace herald::broker
