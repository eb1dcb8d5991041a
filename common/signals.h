// Termination signals for the binaries' main(): blocked in every thread, taken by sigwait.
#ifndef POSFLEET_COMMON_SIGNALS_H_
#define POSFLEET_COMMON_SIGNALS_H_

namespace posfleet {

// Blocks SIGINT and SIGTERM in the calling thread and in every thread it starts afterwards. Call
// first thing in main(), before any library starts a thread, so that WaitForTerminationSignal is
// the only place they are delivered.
void BlockTerminationSignals();

// Blocks until SIGINT or SIGTERM arrives and returns its number.
int WaitForTerminationSignal();

}  // namespace posfleet

#endif  // POSFLEET_COMMON_SIGNALS_H_
