// One virtual network: the app's outbound traffic leaves through the integration subnet (all of it, so private
// endpoints and the protected servers' private addresses are reachable), and the storage accounts and Key Vault are
// reached through private endpoints in the second subnet. Protected servers in other networks need peering (docs/deploy.md).
// Everything else the app reaches (servers with public access, ARM, Application Insights) leaves through one NAT
// gateway with one static public IP: the address to allow in a server's firewall (output PGVAULT_OUTBOUND_IP).
param name string
param location string
param tags object
param addressPrefix string = '10.40.0.0/16'
param appSubnetPrefix string = '10.40.0.0/24'
param privateEndpointSubnetPrefix string = '10.40.1.0/24'

var privateDnsZoneNames = [
  'privatelink.blob.${environment().suffixes.storage}'
  'privatelink.queue.${environment().suffixes.storage}'
  'privatelink.table.${environment().suffixes.storage}'
  // Key Vault's private link zone is `vaultcore`, not the `vault` of its public names.
  'privatelink${replace(environment().suffixes.keyvaultDns, '.vault.', '.vaultcore.')}'
]

resource outboundIp 'Microsoft.Network/publicIPAddresses@2024-01-01' = {
  name: '${name}-outbound-ip'
  location: location
  tags: tags
  // A NAT gateway takes Standard static addresses only.
  sku: { name: 'Standard', tier: 'Regional' }
  properties: {
    publicIPAllocationMethod: 'Static'
    publicIPAddressVersion: 'IPv4'
  }
}

resource natGateway 'Microsoft.Network/natGateways@2024-01-01' = {
  name: '${name}-nat'
  location: location
  tags: tags
  sku: { name: 'Standard' }
  properties: {
    publicIpAddresses: [{ id: outboundIp.id }]
    idleTimeoutInMinutes: 4
  }
}

// The subnets are defined inline, so every `azd provision` sets them to exactly this: the NAT gateway association
// lives here (an association added outside the template would be dropped by the next provision).
resource vnet 'Microsoft.Network/virtualNetworks@2024-01-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: { addressPrefixes: [addressPrefix] }
    subnets: [
      {
        name: 'app'
        properties: {
          addressPrefix: appSubnetPrefix
          // Elastic Premium regional VNet integration needs the subnet delegated to server farms.
          delegations: [{ name: 'serverFarms', properties: { serviceName: 'Microsoft.Web/serverFarms' } }]
          // All of the app's outbound internet traffic, with route-all on, leaves from the one static address.
          natGateway: { id: natGateway.id }
        }
      }
      {
        name: 'private-endpoints'
        properties: {
          addressPrefix: privateEndpointSubnetPrefix
          privateEndpointNetworkPolicies: 'Disabled'
        }
      }
    ]
  }
}

resource zones 'Microsoft.Network/privateDnsZones@2020-06-01' = [for zoneName in privateDnsZoneNames: {
  name: zoneName
  location: 'global'
  tags: tags
}]

resource zoneLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2020-06-01' = [for (zoneName, i) in privateDnsZoneNames: {
  parent: zones[i]
  name: '${name}-link'
  location: 'global'
  properties: {
    registrationEnabled: false
    virtualNetwork: { id: vnet.id }
  }
}]

output vnetId string = vnet.id
output appSubnetId string = '${vnet.id}/subnets/app'
output privateEndpointSubnetId string = '${vnet.id}/subnets/private-endpoints'
output blobDnsZoneId string = zones[0].id
output queueDnsZoneId string = zones[1].id
output tableDnsZoneId string = zones[2].id
output keyVaultDnsZoneId string = zones[3].id
output outboundIpAddress string = outboundIp.properties.ipAddress
