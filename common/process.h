// What every binary's main() sets up before it starts threads.
#ifndef POSFLEET_COMMON_PROCESS_H_
#define POSFLEET_COMMON_PROCESS_H_

namespace posfleet {

// Blocks SIGINT and SIGTERM in the calling thread and in every thread it starts afterwards. Call
// first thing in main(), before any library starts a thread, so that WaitForTerminationSignal is
// the only place they are delivered.
void BlockTerminationSignals();

// Blocks until SIGINT or SIGTERM arrives and returns its number.
int WaitForTerminationSignal();

// Turns off Abseil's mutex deadlock detection, which Debian's Abseil leaves on: it takes one
// process-wide lock on every Mutex acquisition, which posfleet-sim's thousands of agent threads
// contend on (measured in its profile). Tests keep it on, where it finds lock-order bugs.
void DisableMutexDeadlockDetection();

}  // namespace posfleet

#endif  // POSFLEET_COMMON_PROCESS_H_
