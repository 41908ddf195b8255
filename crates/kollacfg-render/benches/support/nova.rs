//! Case 2: a `nova-compute` target whose base `nova.conf` looks like an oslo-config-generator
//! sample that an operator filled in (about 2,000 lines: many sections, help comments, commented
//! defaults, multi-valued `[pci]` keys, a continued value), and 200 fragments: typed
//! `NovaComputePolicy`/`NovaVifPolicy`/`OsloMessagingPolicy` plus `ConfigOverride` `ini`
//! fragments. Every item is distinct; some replace a set key, some fill in a commented default
//! (a new key in an existing section), some create a section.

use std::collections::BTreeMap;

use kollacfg_render::{
    ConfigOverride, Fragment, FragmentBody, NovaComputePolicy, NovaVifPolicy, OsloMessagingPolicy,
    OverrideContent, ResourceRef, Target,
};

use super::{Case, Rng};

/// Number of fragments.
pub const FRAGMENTS: usize = 200;

const NAMESPACE: &str = "openstack";

/// Sections and options of the base. `*name=value` is set, `name=value` is a commented default,
/// `+name=value` is set and multi-valued (may repeat; never overridden).
const SECTIONS: &[(&str, &[&str])] = &[
    ("DEFAULT", &[
        "*debug=False", "*log_dir=/var/log/kolla/nova", "*state_path=/var/lib/nova",
        "*host=compute017", "*my_ip=10.0.4.17", "*compute_driver=libvirt.LibvirtDriver",
        "*instances_path=/var/lib/nova/instances",
        "*transport_url=rabbit://openstack:Xk29fLq7TzWc0pNd@10.0.0.11:5672,openstack:Xk29fLq7TzWc0pNd@10.0.0.12:5672,openstack:Xk29fLq7TzWc0pNd@10.0.0.13:5672//",
        "*allow_resize_to_same_host=true", "reserved_host_disk_mb=0",
        "*resume_guests_state_on_host_boot=true", "heal_instance_info_cache_interval=60",
        "*instance_usage_audit=True", "*instance_usage_audit_period=hour", "force_config_drive=false",
        "use_syslog=false", "rpc_response_timeout=60", "executor_thread_pool_size=64",
        "block_device_allocate_retries=60", "sync_power_state_interval=600",
        "running_deleted_instance_action=reap", "shutdown_timeout=60", "resize_confirm_window=0",
        "*cpu_allocation_ratio=16.0", "ram_allocation_ratio=1.5", "disk_allocation_ratio=1.0",
        "*reserved_host_memory_mb=512", "max_concurrent_builds=10", "vif_plugging_is_fatal=true",
        "*vif_plugging_timeout=300", "initial_cpu_allocation_ratio=4.0",
        "initial_ram_allocation_ratio=1.0", "max_concurrent_live_migrations=1",
        "*default_log_levels=amqp=WARN,amqplib=WARN,boto=WARN,qpid=WARN,sqlalchemy=WARN,oslo.messaging=INFO",
        "long_rpc_timeout=1800", "report_interval=10", "service_down_time=60",
    ]),
    ("api", &[
        "auth_strategy=keystone", "*use_forwarded_for=true", "max_limit=1000",
        "*list_records_by_skipping_down_cells=true", "dhcp_domain=novalocal",
        "vendordata_providers=StaticJSON", "compute_link_prefix=<None>",
    ]),
    ("api_database", &[
        "*connection=mysql+pymysql://nova_api:Tz5kQe1RwYp8LcVn@10.0.0.10:3306/nova_api",
        "*max_pool_size=50", "*max_overflow=1000", "*max_retries=-1", "connection_recycle_time=3600",
        "pool_timeout=<None>",
    ]),
    ("barbican", &[
        "barbican_api_version=<None>", "*auth_endpoint=http://10.0.0.10:5000",
        "*barbican_endpoint_type=internal", "number_of_retries=60", "retry_delay=1", "verify_ssl=true",
    ]),
    ("cache", &[
        "*backend=oslo_cache.memcache_pool", "*enabled=True",
        "*memcache_servers=10.0.0.11:11211,10.0.0.12:11211,10.0.0.13:11211", "expiration_time=600",
        "memcache_dead_retry=300", "memcache_socket_timeout=1.0", "memcache_pool_maxsize=10",
    ]),
    ("cinder", &[
        "*catalog_info=volumev3:cinderv3:internalURL", "*os_region_name=RegionOne",
        "*auth_url=http://10.0.0.10:5000", "*auth_type=password", "cross_az_attach=true",
        "http_retries=3", "debug=false",
    ]),
    ("compute", &[
        "cpu_shared_set=<None>", "cpu_dedicated_set=<None>", "live_migration_wait_for_vif_plug=true",
        "*consecutive_build_service_disable_threshold=10", "resource_provider_association_refresh=300",
        "max_concurrent_disk_ops=0", "max_disk_devices_to_attach=-1",
        "provider_config_location=/etc/nova/provider_config/",
        "packing_host_numa_cells_allocation_strategy=false",
    ]),
    ("conductor", &["*workers=5"]),
    ("console", &["allowed_origins=", "ssl_ciphers=<None>", "ssl_minimum_version=default"]),
    ("database", &[
        "connection=<None>", "max_pool_size=5", "max_retries=10", "db_retry_interval=1",
        "connection_debug=0",
    ]),
    ("devices", &["enabled_mdev_types="]),
    ("ephemeral_storage_encryption", &["enabled=false", "cipher=aes-xts-plain64", "key_size=512"]),
    ("filter_scheduler", &[
        "host_subset_size=1", "max_instances_per_host=50", "max_io_ops_per_host=8",
        "weight_classes=nova.scheduler.weights.all_weighers", "ram_weight_multiplier=1.0",
        "build_failure_weight_multiplier=1000000.0", "shuffle_best_same_weighed_hosts=false",
    ]),
    ("glance", &[
        "*api_servers=http://10.0.0.10:9292", "*num_retries=3", "*debug=False",
        "verify_glance_signatures=false", "enable_rbd_download=false", "rbd_user=",
        "rbd_pool=", "rbd_ceph_conf=",
    ]),
    ("guestfs", &["debug=false"]),
    ("healthcheck", &["backends=", "detailed=false", "disable_by_file_path=<None>"]),
    ("image_cache", &[
        "manager_interval=2400", "subdirectory_name=_base", "remove_unused_base_images=true",
        "remove_unused_original_minimum_age_seconds=86400", "precache_concurrency=1",
    ]),
    ("ironic", &[
        "api_max_retries=60", "api_retry_interval=2", "serial_console_state_timeout=10",
        "partition_key=<None>", "peer_list=",
    ]),
    ("key_manager", &["*backend=barbican", "fixed_key=<None>"]),
    ("keystone", &["region_name=<None>", "valid_interfaces=internal,public"]),
    ("keystone_authtoken", &[
        "*www_authenticate_uri=http://10.0.0.10:5000", "*auth_url=http://10.0.0.10:5000",
        "*auth_type=password", "*project_domain_id=default", "*user_domain_id=default",
        "*project_name=service", "*username=nova", "*password=Jd8vNq3LzXc6RtWy",
        "*service_token_roles_required=True", "*cafile=/etc/ssl/certs/ca-certificates.crt",
        "*region_name=RegionOne", "*memcache_security_strategy=ENCRYPT",
        "*memcache_secret_key=Qm4tBz9KpWx2HsLe",
        "*memcached_servers=10.0.0.11:11211,10.0.0.12:11211,10.0.0.13:11211",
        "http_connect_timeout=<None>", "http_request_max_retries=3", "service_type=compute",
        "token_cache_time=300",
    ]),
    ("libvirt", &[
        "*connection_uri=qemu+tcp://10.0.4.17/system", "*virt_type=kvm", "*cpu_mode=host-passthrough",
        "cpu_models=", "*images_type=rbd", "*images_rbd_pool=vms",
        "*images_rbd_ceph_conf=/etc/ceph/ceph.conf", "*rbd_user=nova",
        "*rbd_secret_uuid=5a1c2f0e-8d3b-4c6a-9f7e-2b4d6e8a0c1f", "*disk_cachemodes=network=writeback",
        "*hw_disk_discard=unmap",
        "*live_migration_uri=qemu+ssh://nova@%s/system?keyfile=/var/lib/nova/.ssh/id_rsa&no_verify=1",
        "*live_migration_inbound_addr=10.0.4.17", "live_migration_permit_auto_converge=false",
        "live_migration_permit_post_copy=false", "volume_use_multipath=false", "num_pcie_ports=0",
        "mem_stats_period_seconds=10", "swtpm_enabled=false", "cpu_power_management=false",
        "hw_machine_type=<None>", "iscsi_use_multipath=false",
        "remove_unused_resized_minimum_age_seconds=3600", "wait_soft_reboot_seconds=120",
        "images_volume_group=<None>",
    ]),
    ("metrics", &["weight_multiplier=1.0", "required=true", "weight_of_unavailable=-10000.0"]),
    ("mks", &["enabled=false", "mksproxy_base_url=http://127.0.0.1:6090/"]),
    ("neutron", &[
        "*metadata_proxy_shared_secret=W2nQe8LkR5tYv1Zx", "*service_metadata_proxy=true",
        "*auth_url=http://10.0.0.10:5000", "*auth_type=password", "*project_domain_name=Default",
        "*user_domain_id=default", "*project_name=service", "*username=neutron",
        "*password=Pb6sJx0Kd4HqLm9T", "*region_name=RegionOne", "*valid_interfaces=internal",
        "ovs_bridge=br-int", "default_floating_pool=nova", "extension_sync_interval=600",
        "http_retries=3",
    ]),
    ("notifications", &[
        "*notify_on_state_change=vm_and_task_state", "*notification_format=unversioned",
        "versioned_notifications_topics=versioned_notifications", "bdms_in_notifications=false",
    ]),
    ("oslo_concurrency", &["*lock_path=/var/lib/nova/tmp", "disable_process_locking=false"]),
    ("oslo_messaging_notifications", &[
        "*transport_url=rabbit://openstack:Xk29fLq7TzWc0pNd@10.0.0.11:5672,openstack:Xk29fLq7TzWc0pNd@10.0.0.12:5672,openstack:Xk29fLq7TzWc0pNd@10.0.0.13:5672//",
        "*driver=messagingv2", "topics=notifications", "retry=-1",
    ]),
    ("oslo_messaging_rabbit", &[
        "*amqp_durable_queues=false", "heartbeat_timeout_threshold=60", "heartbeat_rate=2",
        "rabbit_quorum_queue=false", "rabbit_transient_quorum_queue=false",
        "*heartbeat_in_pthread=false", "rabbit_retry_interval=1", "rabbit_retry_backoff=2",
        "rabbit_interval_max=30", "kombu_reconnect_delay=1.0",
        "kombu_failover_strategy=round-robin", "rabbit_qos_prefetch_count=0", "ssl=false",
        "*rabbit_ha_queues=false", "direct_mandatory_flag=true",
    ]),
    ("oslo_middleware", &["*enable_proxy_headers_parsing=True", "max_request_body_size=114688"]),
    ("oslo_policy", &[
        "enforce_scope=false", "enforce_new_defaults=false", "*policy_file=policy.yaml",
        "policy_default_rule=default", "policy_dirs=policy.d",
    ]),
    ("os_vif_ovs", &[
        "*ovsdb_connection=tcp:127.0.0.1:6640", "isolate_vif=false", "ovs_vsctl_timeout=120",
        "per_port_bridge=false",
    ]),
    ("pci", &[
        "+alias={\"vendor_id\":\"10de\", \"product_id\":\"1db4\", \"device_type\":\"type-PCI\", \"name\":\"v100\"}",
        "+alias={\"vendor_id\":\"10de\", \"product_id\":\"20b0\", \"device_type\":\"type-PCI\", \"name\":\"a100\"}",
        "+alias={\"vendor_id\":\"8086\", \"product_id\":\"154d\", \"device_type\":\"type-PF\", \"name\":\"x520\"}",
        "+device_spec={\"vendor_id\":\"10de\", \"product_id\":\"1db4\"}",
        "+device_spec={\"vendor_id\":\"10de\", \"product_id\":\"20b0\"}",
        "+device_spec={\"devname\":\"enp130s0f0\", \"physical_network\":\"physnet2\"}",
        "+device_spec={\"devname\":\"enp130s0f1\", \"physical_network\":\"physnet2\"}",
        "report_in_placement=false",
    ]),
    ("placement", &[
        "*auth_type=password", "*auth_url=http://10.0.0.10:5000", "*username=placement",
        "*password=Vr3cYh7nGs2BwK5e", "*user_domain_name=Default", "*project_name=service",
        "*project_domain_name=Default", "*region_name=RegionOne", "*valid_interfaces=internal",
    ]),
    ("privsep", &[
        "user=<None>", "helper_command=<None>", "thread_pool_size=2",
        "logger_name=oslo_privsep.daemon",
    ]),
    ("profiler", &[
        "enabled=false", "trace_sqlalchemy=false", "hmac_keys=SECRET_KEY",
        "connection_string=messaging://",
    ]),
    ("quota", &[
        "instances=10", "cores=20", "ram=51200", "metadata_items=128", "injected_files=5",
        "key_pairs=100", "server_groups=10", "server_group_members=10",
        "driver=nova.quota.DbQuotaDriver", "recheck_quota=true", "count_usage_from_placement=false",
    ]),
    ("rdp", &["enabled=false", "html5_proxy_base_url=http://127.0.0.1:6083/"]),
    ("remote_debug", &["host=<None>", "port=<None>"]),
    ("scheduler", &[
        "max_attempts=3", "discover_hosts_in_cells_interval=-1",
        "query_placement_for_image_type_support=false", "enable_isolated_aggregate_filtering=false",
        "image_metadata_prefilter=false", "placement_aggregate_required_for_tenants=false",
    ]),
    ("serial_console", &[
        "enabled=false", "port_range=10000:20000", "base_url=ws://127.0.0.1:6083/",
        "proxyclient_address=127.0.0.1",
    ]),
    ("service_user", &[
        "*send_service_user_token=true", "*auth_url=http://10.0.0.10:5000", "*auth_type=password",
        "*project_domain_id=default", "*user_domain_id=default", "*project_name=service",
        "*username=nova", "*password=Jd8vNq3LzXc6RtWy",
        "*cafile=/etc/ssl/certs/ca-certificates.crt", "*region_name=RegionOne",
        "*valid_interfaces=internal",
    ]),
    ("spice", &[
        "enabled=false", "agent_enabled=true",
        "html5proxy_base_url=http://127.0.0.1:6082/spice_auto.html", "server_listen=127.0.0.1",
    ]),
    ("upgrade_levels", &["*compute=auto", "cert=<None>", "conductor=<None>", "scheduler=<None>"]),
    ("vault", &[
        "root_token_id=<None>", "approle_role_id=<None>", "kv_mountpoint=secret",
        "vault_url=http://127.0.0.1:8200", "use_ssl=false",
    ]),
    ("vendordata_dynamic_auth", &["auth_type=<None>", "auth_url=<None>", "project_name=<None>"]),
    ("vnc", &[
        "*enabled=True", "*novncproxy_host=10.0.4.17", "*novncproxy_port=6080",
        "*server_listen=10.0.4.17", "*server_proxyclient_address=10.0.4.17",
        "*novncproxy_base_url=http://10.0.0.10:6080/vnc_lite.html", "auth_schemes=none",
    ]),
    ("workarounds", &[
        "*skip_cpu_compare_on_dest=True", "disable_rootwrap=false",
        "disable_libvirt_livesnapshot=false", "handle_virt_lifecycle_events=true",
        "never_download_image_if_on_rbd=false", "skip_hypervisor_version_check_on_lm=false",
    ]),
    ("wsgi", &[
        "api_paste_config=api-paste.ini", "client_socket_timeout=900", "keep_alive=true",
        "max_header_line=16384", "tcp_keepidle=600",
    ]),
];

/// Sections absent from the base, for overrides that create a section.
const NEW_SECTIONS: &[(&str, &[&str])] = &[
    (
        "hyperv",
        &[
            "dynamic_memory_ratio=1.0",
            "enable_instance_metrics_collection=false",
            "limit_cpu_features=false",
            "mounted_disk_query_retry_count=10",
            "power_state_check_timeframe=60",
            "use_multipath_io=false",
        ],
    ),
    (
        "vmware",
        &[
            "host_ip=10.0.9.20",
            "host_username=administrator",
            "cluster_name=cluster01",
            "api_retry_count=10",
            "maximum_objects=100",
            "use_linked_clone=true",
        ],
    ),
    (
        "zvm",
        &[
            "cloud_connector_url=https://10.0.9.30",
            "reachable_timeout=300",
        ],
    ),
    (
        "cyborg",
        &["region_name=RegionOne", "valid_interfaces=internal"],
    ),
];

/// Keys written by the typed fragments; overrides never touch them.
const TYPED: &[(&str, &str)] = &[
    ("DEFAULT", "cpu_allocation_ratio"),
    ("DEFAULT", "ram_allocation_ratio"),
    ("DEFAULT", "disk_allocation_ratio"),
    ("DEFAULT", "reserved_host_memory_mb"),
    ("DEFAULT", "max_concurrent_builds"),
    ("DEFAULT", "vif_plugging_is_fatal"),
    ("DEFAULT", "vif_plugging_timeout"),
    ("oslo_messaging_rabbit", "heartbeat_timeout_threshold"),
    ("oslo_messaging_rabbit", "heartbeat_rate"),
    ("oslo_messaging_rabbit", "rabbit_quorum_queue"),
    ("oslo_messaging_rabbit", "rabbit_transient_quorum_queue"),
];

const HELP: &[&str] = &[
    "This option controls how the compute service behaves when the named resource is",
    "unavailable or slow to respond. Changing it requires a restart of the service.",
    "The value is read once at startup; operators usually leave the default alone",
    "unless the deployment is very large or the network between nodes is lossy.",
    "Setting this too low can cause spurious failures under load, while setting it",
    "too high delays the detection of a failed peer.",
    "Related options:",
    "* The corresponding options of the scheduler and the conductor services.",
    "Possible values:",
    "* Any positive integer, or zero to disable the check entirely.",
];

const TYPES: &[&str] = &[
    "string value",
    "integer value",
    "boolean value",
    "floating point value",
    "list value",
    "uri value",
];

/// Builds case 2.
pub fn case() -> Case {
    let mut rng = Rng::new(0x6e6f_7661_2e63_6f6e);
    let base = base_nova_conf(&mut rng);
    let fragments = fragments(&mut rng);
    Case {
        name: "nova",
        target: Target {
            id: ResourceRef::new("KollaConfig", NAMESPACE, "nova-compute"),
            service: "nova-compute".into(),
            rabbitmq_version: None,
        },
        fragments,
        base: BTreeMap::from([("nova.conf".to_string(), base.into_bytes())]),
        file: "nova.conf",
    }
}

fn base_nova_conf(rng: &mut Rng) -> String {
    let mut out = String::from(
        "# nova.conf of the kolla \"nova_compute\" container on compute017.\n\
         # Generated from the oslo-config-generator sample, then filled in by the deployment.\n",
    );
    for (section, options) in SECTIONS {
        out.push_str(&format!("\n[{section}]\n"));
        let mut previous = "";
        for option in *options {
            let (set, multi, spec) = match option.as_bytes()[0] {
                b'*' => (true, false, &option[1..]),
                b'+' => (true, true, &option[1..]),
                _ => (false, false, *option),
            };
            let (key, value) = spec.split_once('=').expect("name=value");
            if !(multi && key == previous) {
                out.push_str("\n#\n");
                let start = rng.below(HELP.len() as u64) as usize;
                for n in 0..(1 + rng.below(3) as usize) {
                    out.push_str("# ");
                    out.push_str(HELP[(start + n) % HELP.len()]);
                    out.push('\n');
                }
                out.push_str(&format!("#  ({})\n", rng.pick(TYPES)));
                if rng.below(4) == 0 {
                    out.push_str("# Deprecated group/name - [DEFAULT]/");
                    out.push_str(key);
                    out.push('\n');
                }
            }
            let line = format!("{key} = {value}");
            if !set {
                out.push('#');
            }
            out.push_str(line.trim_end());
            out.push('\n');
            previous = key;
        }
    }
    // A value continued on indented lines (oslo.config reads them as one value).
    out.push_str(
        "\n[filter_scheduler]\n\
         # The filters, one per line.\n\
         enabled_filters = ComputeFilter,\n    \
         AvailabilityZoneFilter,\n    \
         ComputeCapabilitiesFilter,\n    \
         ImagePropertiesFilter,\n    \
         ServerGroupAntiAffinityFilter,\n    \
         ServerGroupAffinityFilter\n",
    );
    out
}

/// A new value for an override of `value`: a different number, the other boolean, or a
/// changed string.
fn changed(value: &str, n: usize) -> String {
    if let Ok(i) = value.parse::<i64>() {
        return (i.abs() * 2 + 1).to_string();
    }
    match value {
        "true" | "True" => "false".into(),
        "false" | "False" => "true".into(),
        "" | "<None>" => format!("value-{n}"),
        v if v.parse::<f64>().is_ok() => format!("{}.5", n % 7),
        v if v.split('.').count() == 4 && v.split('.').all(|p| p.parse::<u8>().is_ok()) => {
            let (net, _) = v.rsplit_once('.').expect("four parts");
            format!("{net}.{}", 1 + n % 250)
        }
        // URLs, paths and lists: the override restates the value.
        v if v.contains(['/', ':', ',']) => v.to_string(),
        v => format!("{v}-{n}"),
    }
}

fn fragments(rng: &mut Rng) -> Vec<Fragment> {
    let id = |kind: &str, name: &str| ResourceRef::new(kind, NAMESPACE, name);
    let fragment = |id: ResourceRef, body: FragmentBody| Fragment {
        id,
        target: "nova-compute".into(),
        precedence: 0,
        body,
    };
    let mut out = vec![
        fragment(
            id("NovaComputePolicy", "overcommit-ratios"),
            FragmentBody::NovaComputePolicy(NovaComputePolicy {
                cpu_allocation_ratio: Some(2.0),
                ram_allocation_ratio: Some(1.2),
                ..Default::default()
            }),
        ),
        fragment(
            id("NovaComputePolicy", "disk-and-reserved"),
            FragmentBody::NovaComputePolicy(NovaComputePolicy {
                disk_allocation_ratio: Some(1.0),
                reserved_host_memory_mb: Some(8192),
                ..Default::default()
            }),
        ),
        fragment(
            id("NovaComputePolicy", "boot-storm"),
            FragmentBody::NovaComputePolicy(NovaComputePolicy {
                max_concurrent_builds: Some(4),
                ..Default::default()
            }),
        ),
        fragment(
            id("NovaVifPolicy", "vif-not-fatal"),
            FragmentBody::NovaVifPolicy(NovaVifPolicy {
                vif_plugging_is_fatal: Some(false),
                ..Default::default()
            }),
        ),
        fragment(
            id("NovaVifPolicy", "vif-timeout"),
            FragmentBody::NovaVifPolicy(NovaVifPolicy {
                vif_plugging_timeout: Some(600),
                ..Default::default()
            }),
        ),
        fragment(
            id("OsloMessagingPolicy", "heartbeats"),
            FragmentBody::OsloMessagingPolicy(OsloMessagingPolicy {
                heartbeat_timeout_threshold: Some(30),
                heartbeat_rate: Some(3),
                ..Default::default()
            }),
        ),
        fragment(
            id("OsloMessagingPolicy", "quorum-queues"),
            FragmentBody::OsloMessagingPolicy(OsloMessagingPolicy {
                rabbit_quorum_queue: Some(true),
                rabbit_transient_quorum_queue: Some(true),
                ..Default::default()
            }),
        ),
    ];
    // Every option that no typed fragment writes and that is not multi-valued, plus the options
    // of the new sections: one distinct item each, dealt out to the overrides.
    let mut pool: Vec<(String, String, String)> = Vec::new();
    for (section, options) in SECTIONS.iter().chain(NEW_SECTIONS) {
        for option in *options {
            if option.starts_with('+') {
                continue;
            }
            let spec = option.trim_start_matches('*');
            let (key, value) = spec.split_once('=').expect("name=value");
            if TYPED.contains(&(section, key)) {
                continue;
            }
            pool.push((section.to_string(), key.to_string(), value.to_string()));
        }
    }
    rng.shuffle(&mut pool);
    let overrides = FRAGMENTS - out.len();
    let mut ini: Vec<BTreeMap<String, BTreeMap<String, String>>> = vec![BTreeMap::new(); overrides];
    for (n, (section, key, value)) in pool.into_iter().enumerate() {
        let value = changed(&value, n);
        ini[n % overrides]
            .entry(section)
            .or_default()
            .insert(key, value);
    }
    for (n, sections) in ini.into_iter().enumerate() {
        out.push(fragment(
            id("ConfigOverride", &format!("nova-tuning-{n:03}")),
            FragmentBody::ConfigOverride(ConfigOverride {
                file: "nova.conf".into(),
                content: OverrideContent::Ini(sections),
            }),
        ));
    }
    out
}
