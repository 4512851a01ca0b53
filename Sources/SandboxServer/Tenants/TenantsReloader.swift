import Logging
import ServiceLifecycle
import UnixSignals

/// Reads the tenants file again on SIGHUP. A good file replaces the
/// tenants at once: new tokens open the service, each tenant's rate,
/// concurrency, sessions, packages and quota change for its clients now
/// (its maxima for connections made from then on), and the connections of
/// a token the file no longer has end. A bad file changes nothing and is
/// logged with its line and reason.
struct TenantsReloader: Service {
    let book: TenantBook
    let file: String
    let serverMaxima: TenantLimits
    let accounts: TenantAccounts
    let metrics: ServerMetrics
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            for await _ in await UnixSignalsSequence(trapping: .sighup) { reload() }
        }
    }

    func reload() {
        let tenants: [Tenant]
        do throws(TenantsFile.Problem) {
            tenants = try TenantsFile.load(path: file, serverMaxima: serverMaxima)
        } catch {
            metrics.tenantsReloaded(ok: false)
            logger.error("tenants file not reloaded; the tenants loaded before stay", metadata: [
                "problem": "\(error)", "tenants": "\(book.directory.tenants.count)",
            ])
            return
        }
        let replaced = book.replace(with: TenantDirectory(tenants))
        for tenant in tenants { accounts.account(named: tenant.name)?.update(tenant) }
        metrics.tenantsReloaded(ok: true)
        logger.info("tenants file reloaded", metadata: [
            "tenants": "\(tenants.count)", "removedTenants": "\(replaced.removedTenants)", "removedTokens": "\(replaced.removedTokens)",
        ])
    }
}
