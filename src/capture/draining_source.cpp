#include "capture/draining_source.h"

#include <algorithm>
#include <chrono>
#include <cstring>

namespace causeway::capture {
namespace {

// Each record in a chunk: its size, padding, then its bytes padded to 8, so every record
// starts 8-byte aligned as it did in the ring.
constexpr size_t kHeader = 8;

size_t slot_bytes(size_t size) {
  return kHeader + ((size + 7) & ~size_t{7});
}

}  // namespace

DrainingSource::DrainingSource(EventSource& inner, size_t capacity_bytes, int inner_poll_ms)
    : inner_(inner),
      capacity_(std::max(capacity_bytes, kChunkBytes)),
      inner_poll_ms_(inner_poll_ms) {
  thread_ = std::thread([this] { run(); });
}

DrainingSource::~DrainingSource() {
  stop(false);
}

void DrainingSource::run() {
  const RecordConsumer push_one = [this](std::span<const uint8_t> rec) { return push(rec); };
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) break;
    }
    auto polled = inner_.poll(inner_poll_ms_, push_one);
    publish_current();
    if (!polled.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      error_ = polled.status();
      break;
    }
  }
  bool drain = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    drain = drain_ && error_.ok();
  }
  // The final drain: what the inner source holds at the stop (bounded rounds, in case the
  // producers keep writing faster than this thread reads).
  for (int i = 0; drain && i < 1000; i++) {
    auto polled = inner_.poll(0, push_one);
    publish_current();
    if (!polled.ok() || polled.value() == 0) break;
  }
  std::lock_guard<std::mutex> lock(mu_);
  finished_ = true;
  ready_cv_.notify_all();
}

bool DrainingSource::push(std::span<const uint8_t> rec) {
  const size_t need = slot_bytes(rec.size());
  if (!current_ || current_->buf.size() - current_->used < need) {
    publish_current();
    std::unique_lock<std::mutex> lock(mu_);
    const size_t size = std::max(need, kChunkBytes);
    const auto fits = [&] { return unbounded_ || held_ + size <= capacity_; };
    if (!fits() && !stop_) {
      // Back-pressure: stop reading until the consumer frees a chunk. The inner source keeps
      // (or, for the BPF ring, counts as dropped) what arrives meanwhile.
      ++full_waits_;
      space_cv_.wait(lock, [&] { return fits() || stop_; });
    }
    // A stop while waiting: queue this one record anyway (one chunk above the bound) so a
    // record already taken from the inner source is never lost, then stop reading.
    const bool stopping = stop_ && !fits();
    if (size == kChunkBytes && !free_.empty()) {
      current_ = std::move(free_.back());
      free_.pop_back();
      current_->used = current_->read = 0;
    } else {
      current_ = std::make_unique<Chunk>();
      current_->buf.resize(size);
    }
    held_ += current_->buf.size();
    peak_ = std::max(peak_, held_);
    if (stopping) {
      lock.unlock();
      write(rec);
      publish_current();
      return false;
    }
  }
  write(rec);
  return true;
}

void DrainingSource::write(std::span<const uint8_t> rec) {
  uint8_t* at = current_->buf.data() + current_->used;
  const uint32_t size32 = static_cast<uint32_t>(rec.size());
  std::memcpy(at, &size32, sizeof size32);
  std::memcpy(at + kHeader, rec.data(), rec.size());
  current_->used += slot_bytes(rec.size());
}

void DrainingSource::publish_current() {
  if (!current_) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (current_->used == 0) {
    held_ -= current_->buf.size();
    if (current_->buf.size() == kChunkBytes) free_.push_back(std::move(current_));
    current_.reset();
    space_cv_.notify_all();
    return;
  }
  ready_.push_back(std::move(current_));
  ready_cv_.notify_all();
}

void DrainingSource::release(std::unique_ptr<Chunk> c) {
  std::lock_guard<std::mutex> lock(mu_);
  held_ -= c->buf.size();
  if (c->buf.size() == kChunkBytes) free_.push_back(std::move(c));
  space_cv_.notify_all();
}

Result<int64_t> DrainingSource::poll(int timeout_ms, const RecordConsumer& consume) {
  int64_t delivered = 0;
  std::unique_lock<std::mutex> lock(mu_);
  if (ready_.empty() && !finished_ && timeout_ms != 0) {
    ready_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                       [&] { return !ready_.empty() || finished_; });
  }
  // One chunk at a time, each returned to the free list as soon as it is delivered, so the
  // drain thread gets space back while the rest is being decoded.
  while (!ready_.empty()) {
    std::unique_ptr<Chunk> c = std::move(ready_.front());
    ready_.pop_front();
    lock.unlock();
    bool go_on = true;
    while (c->read < c->used) {
      const uint8_t* at = c->buf.data() + c->read;
      uint32_t size = 0;
      std::memcpy(&size, at, sizeof size);
      c->read += slot_bytes(size);
      ++delivered;
      if (!consume(std::span<const uint8_t>(at + kHeader, size))) {
        go_on = false;
        break;
      }
    }
    if (!go_on && c->read < c->used) {
      lock.lock();
      ready_.push_front(std::move(c));  // the rest waits for the next poll()
      return delivered;
    }
    release(std::move(c));
    if (!go_on) return delivered;
    lock.lock();
  }
  if (delivered == 0 && finished_ && !error_.ok()) return error_;
  return delivered;
}

void DrainingSource::stop(bool drain) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (joined_) return;
    stop_ = true;
    drain_ = drain;
    unbounded_ = drain;
    space_cv_.notify_all();
  }
  thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  joined_ = true;
}

size_t DrainingSource::held_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return held_;
}

size_t DrainingSource::peak_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return peak_;
}

uint64_t DrainingSource::full_waits() const {
  std::lock_guard<std::mutex> lock(mu_);
  return full_waits_;
}

}  // namespace causeway::capture
