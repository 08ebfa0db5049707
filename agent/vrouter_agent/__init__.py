"""vrouter-neutron-agent: the appliance as a Neutron network node (L3, DHCP and Open vSwitch
agent over Neutron's RPC), reconciling Neutron's state into the appliance's control socket."""
