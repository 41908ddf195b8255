/*
 * The pod sandbox's process for the test node: holds the pod's namespaces open and does
 * nothing else. As PID 1 of a pod that shares its PID namespace it reaps orphans; it exits
 * cleanly on SIGINT or SIGTERM (when the sandbox is stopped). Built with gcc -static by
 * tests/node/node-build.sh and packed as a one-file image, because no image can be pulled.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int signo)
{
    (void)signo;
    _exit(0);
}

static void reap(int signo)
{
    (void)signo;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
}

int main(int argc, char **argv)
{
    struct sigaction action;

    if (argc > 1 && strcmp(argv[1], "-v") == 0) {
        puts("kollacfg test pause");
        return 0;
    }
    memset(&action, 0, sizeof action);
    action.sa_handler = stop;
    if (sigaction(SIGINT, &action, NULL) < 0 || sigaction(SIGTERM, &action, NULL) < 0) {
        perror("sigaction");
        return 1;
    }
    action.sa_handler = reap;
    action.sa_flags = SA_NOCLDSTOP;
    if (sigaction(SIGCHLD, &action, NULL) < 0) {
        perror("sigaction");
        return 1;
    }
    for (;;) {
        pause();
    }
}
