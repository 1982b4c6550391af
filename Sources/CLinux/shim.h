// Kernel interfaces HTTPCore's event loop needs; Glibc's Swift module leaves them out.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

// accept4 is declared only under _GNU_SOURCE, which a module header cannot define
// without disagreeing with the Glibc module; the prototype is the stable Linux ABI.
extern int accept4(int sockfd, struct sockaddr *addr, socklen_t *addrlen, int flags);
