#pragma once
// ManualReads: a ReadRunner (broker/storage/read_runner.h) for unit tests. It
// keeps the jobs it is given until the test runs them (RunAll), on the test's
// thread: each job, then its completion, as a reader thread and the I/O
// thread would, with the test choosing what happens in between.

#include <cstddef>
#include <vector>

#include "broker/storage/read_runner.h"

namespace herald::test {

class ManualReads final : public broker::ReadRunner {
 public:
  void Run(Job job) override { jobs_.push_back(std::move(job)); }

  // Runs every job started so far (and those their completions start), each
  // followed by its completion; returns how many.
  std::size_t RunAll() {
    std::size_t ran = 0;
    while (!jobs_.empty()) {
      std::vector<Job> now;
      now.swap(jobs_);
      for (Job& job : now) {
        Completion done = job();
        done();
        ++ran;
      }
    }
    return ran;
  }
  // Runs the jobs started so far, keeping their completions for RunCompletions.
  void RunJobsOnly() {
    std::vector<Job> now;
    now.swap(jobs_);
    for (Job& job : now) completions_.push_back(job());
  }
  void RunCompletions() {
    std::vector<Completion> now;
    now.swap(completions_);
    for (Completion& done : now) done();
  }
  std::size_t pending() const { return jobs_.size(); }

 private:
  std::vector<Job> jobs_;
  std::vector<Completion> completions_;
};

}  // namespace herald::test
